using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

/// <summary>Which of the two "ready" messages the fake sends first after startApi (TWS-PROTOCOL.md §2.1 step 5: both orders occur).</summary>
public enum HandshakeOrder
{
    /// <summary>managedAccounts (15), then nextValidId (9).</summary>
    ManagedAccountsFirst,

    /// <summary>nextValidId (9), then managedAccounts (15).</summary>
    NextValidIdFirst,
}

/// <summary>
/// Configuration of a <see cref="FakeTwsServer"/>. Every property has a usable default, so
/// <c>new FakeTwsOptions()</c> gives a paper-like Gateway on an ephemeral loopback port.
/// </summary>
public sealed class FakeTwsOptions
{
    /// <summary>Loopback port to listen on; 0 (default) picks a free one (see <see cref="FakeTwsServer.Port"/>).</summary>
    public int Port { get; init; }

    /// <summary>
    /// Highest server version the fake speaks (default and maximum 176, TWS-PROTOCOL.md §3.4). The negotiated
    /// version is <c>min(clientMax, this)</c>; frames are always in the 176 layouts.
    /// </summary>
    public int ServerVersion { get; init; } = 176;

    /// <summary>
    /// What to do when the client's minimum version is above <see cref="ServerVersion"/>: false (default) closes the socket
    /// without a reply (TWS-PROTOCOL.md §10.2); true answers with <see cref="ServerVersion"/> and lets the client reject it
    /// (what TWS is assumed to do, §2.3, §12).
    /// </summary>
    public bool AnswerBelowClientMinimum { get; init; }

    /// <summary>Managed accounts, sent comma-separated in managedAccounts (15). Default: one paper account "DU1234567".</summary>
    public IReadOnlyList<string> Accounts { get; init; } = ["DU1234567"];

    /// <summary>The first nextValidId (9) the fake hands out (default 1).</summary>
    public int FirstNextValidId { get; init; } = 1;

    /// <summary>The first permId assigned to an accepted order (default 1 000 000 001; stays below int32 as at server version 176).</summary>
    public long FirstPermId { get; init; } = 1_000_000_001;

    /// <summary>Order of managedAccounts and nextValidId after startApi (default managedAccounts first).</summary>
    public HandshakeOrder HandshakeOrder { get; init; } = HandshakeOrder.ManagedAccountsFirst;

    /// <summary>Farm notices (error frames with id −1) sent after the handshake; default 2104, 2106, 2158 (§2.1 step 6).</summary>
    public IReadOnlyList<int> FarmNoticesOnConnect { get; init; } = [2104, 2106, 2158];

    /// <summary>
    /// The business clock: handshake time, currentTime (49), execution times, completed times, account time.
    /// Default <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// The wall clock for things that are about real elapsed time: the pacing window, delays of split writes,
    /// auto-pace, the end of <see cref="FakeTwsServer.RefuseConnectionsFor"/>, flush and wait timeouts.
    /// Default <see cref="TimeProvider.System"/>; inject the same fake as <see cref="TimeProvider"/> to drive both.
    /// </summary>
    public TimeProvider WallClock { get; init; } = TimeProvider.System;

    /// <summary>
    /// Time zone for time strings (handshake time, execution time, historical bar dates): an IANA or Windows id
    /// known to the machine. Default "UTC". The zone's id is appended to the strings, as TWS does ("… US/Eastern").
    /// </summary>
    public string TimeZoneId { get; init; } = "UTC";

    /// <summary>Client messages allowed per sliding 1 s window, summed over all clients (§8.3); over it → error 100. Null disables. Default 50.</summary>
    public int? PacingLimitPerSecond { get; init; } = 50;

    /// <summary>Whether a pacing violation also closes the offending connection (TWS "may disconnect"). Default false.</summary>
    public bool DisconnectOnPacingViolation { get; init; }

    /// <summary>Initial value of <see cref="FakeTwsServer.SplitWrites"/>.</summary>
    public bool SplitWrites { get; init; }

    /// <summary>Initial value of <see cref="FakeTwsServer.CoalesceWrites"/>.</summary>
    public bool CoalesceWrites { get; init; }

    /// <summary>Seed of the random piece sizes used by split writes (deterministic per seed). Default 20260501.</summary>
    public int RandomSeed { get; init; } = 20260501;

    /// <summary>Initial value of <see cref="FakeTwsServer.FillSlices"/>: each fill is delivered as this many partial executions. Default 1.</summary>
    public int FillSlices { get; init; } = 1;

    /// <summary>When set, steps every symbol's loaded bars at this rate (bars per second, wall clock) from start. Default off.</summary>
    public double? AutoPaceBarsPerSecond { get; init; }

    /// <summary>Absolute bid/ask spread put around a stepped bar's close (bid = close − spread/2, ask = close + spread/2). Default 0.</summary>
    public double BarQuoteSpread { get; init; }

    /// <summary>Quote size used for bid/ask/last ticks when a test does not give one. Default 100.</summary>
    public decimal DefaultQuoteSize { get; init; } = 100m;

    /// <summary>
    /// A thin touch: fills against the quote take at most the size quoted at the touch (the bid's for sells, the ask's for
    /// buys), which they use up; the rest of the order works on until a later quote (<see cref="FakeTwsServer.SetQuote"/>)
    /// brings new size. Default false: every marketable order fills completely at the touch.
    /// </summary>
    public bool FillsTakeQuoteSize { get; init; }

    /// <summary>Starting cash of each account, in <see cref="BaseCurrency"/>. Default 1 000 000.</summary>
    public decimal InitialCash { get; init; } = 1_000_000m;

    /// <summary>Account base currency (account summary / account values). Default "USD". All currencies are booked 1:1 into it.</summary>
    public string BaseCurrency { get; init; } = "USD";

    /// <summary>Commission charged per execution (commissionReport (59) and cash). Default 1.0.</summary>
    public double CommissionPerExecution { get; init; } = 1.0;

    /// <summary>
    /// Initial value of <see cref="FakeTwsServer.OpenOrderDeltaNeutralNone"/>: write "None" in deltaNeutralOrderType and the 8 extra
    /// fields, as real TWS does (136-field openOrder, §4.5). Default false (128 fields).
    /// </summary>
    public bool OpenOrderDeltaNeutralNone { get; init; }

    /// <summary>Contract table; null (default) uses <see cref="FakeContracts.Default"/> (§10.5).</summary>
    public IReadOnlyList<FakeContract>? Contracts { get; init; }

    /// <summary>Maximum concurrent API clients (TWS accepts 32). Further connections are closed after the handshake.</summary>
    public int MaxClients { get; init; } = 32;

    /// <summary>Logger factory for the server's own log; null uses no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks the options and reports every problem at once.</summary>
    /// <exception cref="ArgumentException">One or more options are out of range; the message lists each rule and the value seen.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (Port is < 0 or > 65535)
        {
            errors.Add($"Port must be 0..65535, was {Port}");
        }

        if (ServerVersion is < 100 or > 176)
        {
            errors.Add($"ServerVersion must be 100..176 (text protocol, 176 layouts), was {ServerVersion}");
        }

        if (Accounts.Count == 0 || Accounts.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("Accounts must hold at least one non-empty account id");
        }

        if (FirstNextValidId < 0)
        {
            errors.Add($"FirstNextValidId must be >= 0, was {FirstNextValidId}");
        }

        if (FirstPermId <= 0)
        {
            errors.Add($"FirstPermId must be > 0, was {FirstPermId}");
        }

        if (PacingLimitPerSecond is <= 0)
        {
            errors.Add($"PacingLimitPerSecond must be > 0 or null, was {PacingLimitPerSecond}");
        }

        if (FillSlices < 1)
        {
            errors.Add($"FillSlices must be >= 1, was {FillSlices}");
        }

        if (AutoPaceBarsPerSecond is <= 0 or > 10_000)
        {
            errors.Add($"AutoPaceBarsPerSecond must be in (0, 10000] or null, was {AutoPaceBarsPerSecond}");
        }

        if (BarQuoteSpread < 0 || double.IsNaN(BarQuoteSpread))
        {
            errors.Add($"BarQuoteSpread must be >= 0, was {BarQuoteSpread}");
        }

        if (MaxClients < 1)
        {
            errors.Add($"MaxClients must be >= 1, was {MaxClients}");
        }

        try
        {
            _ = TimeZoneInfo.FindSystemTimeZoneById(TimeZoneId);
        }
        catch (TimeZoneNotFoundException)
        {
            errors.Add($"TimeZoneId must name a time zone known to this machine, was '{TimeZoneId}'");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid FakeTwsOptions: " + string.Join("; ", errors));
        }
    }
}
