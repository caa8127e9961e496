using MetalSniper.Judges.Verdicts;
using Microsoft.Extensions.Logging;

namespace MetalSniper.Host;

/// <summary>Builds the brain's judge panel from the <c>Judges</c> section: loads each judge that is on from the model registry.</summary>
public static class JudgeLoading
{
    /// <summary>The panel for these options.</summary>
    /// <exception cref="InvalidOperationException">A judge is on; loading models is not built yet.</exception>
    public static JudgePanel CreatePanel(JudgesOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Entry.Mode == JudgeMode.Off && options.Exit.Mode == JudgeMode.Off && options.Add.Mode == JudgeMode.Off)
        {
            return new JudgePanel(options, null, null, null);
        }

        throw new InvalidOperationException("judges: loading models from the registry is not built yet");
    }
}
