using MetalSniper.Features;
using MetalSniper.Judges.Registry;
using MetalSniper.Research.Datasets;

namespace MetalSniper.Research.Tests;

public sealed class TradeLabelerTests
{
    private static readonly DateTimeOffset T = new(2025, 7, 1, 10, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string> Features(DateTimeOffset asOf, params (string K, string V)[] extra)
    {
        var d = new FeatureVector(Enumerable.Repeat(0.5f, FeatureBuilder.Schema.Count).ToArray(), asOf).ToInputs().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (k, v) in extra)
        {
            d[k] = v;
        }

        return d;
    }

    private static RecordedFill Fill(string id, string decision, string purpose, decimal qty, decimal price, DateTimeOffset t, decimal commission = 2m) =>
        new(id, decision, purpose, "XAUUSD", qty, price, commission, "USD", t);

    [Fact]
    public void AHedgeThatWonAfterAnAdd_IsLabelledNetOfCommissions_EntryAddAndExitReview()
    {
        // Hedge at 2000, R 10, 5 oz: the buy stop fills at 2010 (short leg killed), an add of 2 oz at 2030, exit at 2050.
        var decisions = new List<RecordedDecision>
        {
            new("E1", "XAUUSD", "OpenHedge", "Taken", Features(T, ("r", "10"), ("quantity", "5")), T),
            new("A1", "XAUUSD", "Add", "Taken", Features(T.AddHours(2), ("r", "10")), T.AddHours(2)),
            new("R1", "XAUUSD", "ExitReview", "Taken", Features(T.AddHours(3), ("close", "2045"), ("position", "7"), ("r", "10"), ("exitCostPerUnit", "0.5"), ("direction", "1")), T.AddHours(3)),
            new("X1", "XAUUSD", "ExitOnTurn", "Taken", new Dictionary<string, string>(), T.AddHours(4)),
        };
        var fills = new List<RecordedFill>
        {
            Fill("f1", "E1", "Entry", 5, 2010, T.AddHours(1)),
            Fill("f2", "A1", "Add", 2, 2030, T.AddHours(2.25)),
            Fill("f3", "X1", "Exit", -7, 2050, T.AddHours(4.25), 3m),
        };
        var (rows, unlabeled) = TradeLabeler.Label(new DecisionHistory("run", "simulated", true, decisions, fills), _ => 1m);
        unlabeled.ShouldBeEmpty();

        var entry = rows.Single(r => r.Judge == JudgeKind.Entry);
        // Cash: −5·2010 − 2·2030 + 7·2050 = 240; commissions 2 + 2 + 3 = 7; risk 10 × 5 = 50.
        entry.NetPnl.ShouldBe(233m);
        entry.NetR.ShouldBe(233.0 / 50, 1e-12);
        entry.Label.ShouldBe(1);
        entry.LabelEndUtc.ShouldBe(T.AddHours(4.25));

        var add = rows.Single(r => r.Judge == JudgeKind.Add);
        // 2 × (2050 − 2030) = 40, minus its commission 2 and its share of the exit's (3/7 per unit × 2).
        add.NetPnl.ShouldBe(40m - 2m - (3m / 7m * 2m));
        add.Label.ShouldBe(1);

        var review = rows.Single(r => r.Judge == JudgeKind.Exit);
        // Exiting at the review: 2045 − 0.5 = 2044.5 per unit; holding: 2050 − 3/7. Holding was better.
        review.Label.ShouldBe(0);
        review.NetR.ShouldBe((double)((2044.5m - (2050m - (3m / 7m))) / 10m), 1e-9);
    }

    [Fact]
    public void AWithdrawnHedgeIsZeroR_ALosingTradeIsNegative_AndATradeOpenAtTheEndIsNotLabelled()
    {
        var decisions = new List<RecordedDecision>
        {
            new("E1", "XAUUSD", "OpenHedge", "Taken", Features(T, ("r", "10"), ("quantity", "5")), T),
            new("W1", "XAUUSD", "HedgeExpired", "Taken", new Dictionary<string, string>(), T.AddHours(4)),
            new("E2", "XAUUSD", "OpenHedge", "Taken", Features(T.AddHours(5), ("r", "10"), ("quantity", "5")), T.AddHours(5)),
            new("E3", "XAUUSD", "OpenHedge", "Taken", Features(T.AddHours(9), ("r", "10"), ("quantity", "5")), T.AddHours(9)),
            new("E4", "XAUUSD", "OpenHedge", "Taken", new Dictionary<string, string> { ["r"] = "10" }, T.AddHours(12)),
        };
        var fills = new List<RecordedFill>
        {
            Fill("f1", "E2", "Entry", -5, 1990, T.AddHours(6)),
            Fill("f2", "E2", "Entry", 5, 2010, T.AddHours(7)), // the other leg: stopped both ways
            Fill("f3", "E3", "Entry", 5, 2010, T.AddHours(10)),
        };
        var (rows, unlabeled) = TradeLabeler.Label(new DecisionHistory("run", "simulated", true, decisions, fills), _ => 1m);
        var e1 = rows.Single(r => r.DecisionId == "E1");
        (e1.NetR, e1.Label, e1.LabelEndUtc).ShouldBe((0.0, 0, T.AddHours(4)));
        var e2 = rows.Single(r => r.DecisionId == "E2");
        e2.NetPnl.ShouldBe(-100m - 4m);
        e2.Label.ShouldBe(0);
        unlabeled.Select(u => (u.DecisionId, u.Why)).ShouldBe([("E3", "the trade was still open when the data ended"), ("E4", "the decision carries no features (recorded before the judges existed)")], ignoreOrder: true);
    }
}
