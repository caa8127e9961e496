namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// Real time, for records about the process itself (run start and end, migrations, pacing), as
/// opposed to the registered <see cref="TimeProvider"/>, which is replay time in a replay.
/// </summary>
/// <param name="Provider">The wall-clock provider (<see cref="TimeProvider.System"/> outside tests).</param>
public sealed record WallClock(TimeProvider Provider);
