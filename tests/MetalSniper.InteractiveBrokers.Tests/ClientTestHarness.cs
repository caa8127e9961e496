using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// A <see cref="FakeTwsServer"/> on 127.0.0.1 plus a <see cref="TwsClient"/> whose event stream is pumped into a list that
/// tests can wait on (poll with a timeout, no sleeps).
/// </summary>
internal sealed class ClientTestHarness : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private readonly List<TwsEvent> _events = [];
    private readonly Lock _gate = new();
    private readonly Task _pump;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClientHarnessParts Parts { get; }

    private ClientTestHarness(ClientHarnessParts parts)
    {
        Parts = parts;
        _pump = Task.Run(PumpAsync);
    }

    public FakeTwsServer Server => Parts.Server;

    public TwsClient Client => Parts.Client;

    public int ClientId { get; private set; } = 7;

    /// <summary>
    /// Fast heartbeat ticks (every 50 ms) with a 2 s reply timeout. The timeout was 400 ms, and on a loaded two-core CI host
    /// (the host tests run beside these) a pause of that length dropped healthy links: a test then waited on a disconnected
    /// client (seen twice in one CI run). The half-open test still sees its drop well within its wait.
    /// </summary>
    public static TwsClientOptions FastOptions() => new()
    {
        HeartbeatInterval = TimeSpan.FromMilliseconds(50),
        HeartbeatTimeout = TimeSpan.FromSeconds(2),
    };

    public static async Task<ClientTestHarness> StartAsync(FakeTwsOptions? fake = null, TwsClientOptions? options = null, bool connect = true, int clientId = 7)
    {
        var server = await FakeTwsServer.StartAsync(fake ?? new FakeTwsOptions());
        var client = new TwsClient(options ?? FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
        var harness = new ClientTestHarness(new ClientHarnessParts(server, client)) { ClientId = clientId };
        if (connect)
        {
            await harness.ConnectAsync();
        }

        return harness;
    }

    public Task<ConnectedEvent> ConnectAsync(int? clientId = null) =>
        Client.ConnectAsync("127.0.0.1", Server.Port, clientId ?? ClientId, Wait, CancellationToken.None);

    public IReadOnlyList<TwsEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public List<T> All<T>(Func<T, bool>? predicate = null)
        where T : TwsEvent => [.. Events.OfType<T>().Where(e => predicate?.Invoke(e) ?? true)];

    /// <summary>The first event (over the whole history) of type T matching the predicate; waits up to <paramref name="timeout"/>.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null)
        where T : TwsEvent => (await WaitForCountAsync(1, predicate, timeout))[0];

    /// <summary>Waits until at least <paramref name="count"/> matching events of type T were received.</summary>
    public async Task<List<T>> WaitForCountAsync<T>(int count, Func<T, bool>? predicate = null, TimeSpan? timeout = null)
        where T : TwsEvent
    {
        using var cts = new CancellationTokenSource(timeout ?? Wait);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var found = _events.OfType<T>().Where(e => predicate?.Invoke(e) ?? true).ToList();
                if (found.Count >= count)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                var seen = string.Join("\n  ", Events.TakeLast(30));
                throw new Xunit.Sdk.XunitException($"timed out waiting for {count} {typeof(T).Name}; last events:\n  {seen}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await _pump;
        await Server.DisposeAsync();
        Server.InternalErrors.ShouldBeEmpty();
    }

    private async Task PumpAsync()
    {
        await foreach (var e in Client.Events.ReadAllAsync())
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                _events.Add(e);
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }
    }

    private sealed record ClientHarnessParts(FakeTwsServer Server, TwsClient Client);
}
