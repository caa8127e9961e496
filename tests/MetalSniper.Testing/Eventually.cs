using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace MetalSniper.Testing;

/// <summary>
/// Waits for something another thread or process does: polls a condition until it holds or a timeout passes, instead of
/// sleeping a guessed time. The condition is checked once more at the deadline, so a slow machine fails only when the
/// condition really never held.
/// </summary>
public static class Eventually
{
    /// <summary>How long <c>Until</c> waits unless told otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How often <c>Until</c> checks unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>Completes once <paramref name="condition"/> holds; throws <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    /// <param name="condition">Checked on the calling context, first immediately and then every <paramref name="poll"/>.</param>
    /// <param name="what">What is awaited, for the failure message; defaults to the condition's source text.</param>
    /// <param name="timeout">How long to wait (default <see cref="DefaultTimeout"/>).</param>
    /// <param name="poll">The pause between checks (default <see cref="DefaultPoll"/>).</param>
    /// <param name="giveUpIf">Checked after each failed check: a non-null answer (why) ends the wait at once with an
    /// <see cref="InvalidOperationException"/>, e.g. when the process that should make the condition true has exited.</param>
    public static Task Until(
        Func<bool> condition,
        [CallerArgumentExpression(nameof(condition))] string? what = null,
        TimeSpan? timeout = null,
        TimeSpan? poll = null,
        Func<Task<string?>>? giveUpIf = null) =>
        Until(condition, () => what ?? "the condition", timeout, poll, giveUpIf);

    /// <summary>As the other overload, with the failure message built only when the wait fails (e.g. to show what was seen instead).</summary>
    public static async Task Until(
        Func<bool> condition,
        Func<string> describe,
        TimeSpan? timeout = null,
        TimeSpan? poll = null,
        Func<Task<string?>>? giveUpIf = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (giveUpIf is not null && await giveUpIf() is { } why)
            {
                throw new InvalidOperationException($"gave up waiting for {describe()}: {why}");
            }

            if (clock.Elapsed > limit)
            {
                if (condition())
                {
                    return;
                }

                throw new TimeoutException($"timed out after {limit.TotalSeconds:0.###} s waiting for {describe()}");
            }

            await Task.Delay(poll ?? DefaultPoll);
        }
    }
}
