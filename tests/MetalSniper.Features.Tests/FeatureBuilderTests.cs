using System.IO.Compression;
using System.Globalization;
using MetalSniper.Core.MarketData;

namespace MetalSniper.Features.Tests;

public sealed class FeatureBuilderTests
{
    /// <summary>The first <paramref name="count"/> bars of the real 15-minute gold file.</summary>
    internal static List<Bar> RealGold(int count)
    {
        var path = MetalSniper.Testing.TestPaths.SharedDataFile("metals/xauusd_m15_utc.csv.gz");
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        reader.ReadLine();
        var bars = new List<Bar>();
        while (bars.Count < count && reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            var open = DateTimeOffset.Parse(f[0], CultureInfo.InvariantCulture);
            decimal D(int i) => decimal.Parse(f[i], CultureInfo.InvariantCulture);
            bars.Add(new Bar("XAUUSD", open, TimeSpan.FromMinutes(15), D(1), D(2), D(3), D(4), D(5), null, open.AddMinutes(15)));
        }

        return bars;
    }

    [Fact]
    public void Snapshot_IsAsOfTheLastBarsClose_AndChangingLaterBarsChangesNothingBefore()
    {
        var bars = RealGold(400);
        var a = new FeatureBuilder();
        var b = new FeatureBuilder();
        var snapshots = new List<FeatureVector>();
        for (var i = 0; i < 300; i++)
        {
            a.Update(bars[i]);
            snapshots.Add(a.Snapshot(null));
            snapshots[^1].AsOfUtc.ShouldBe(bars[i].CloseTimeUtc);
        }

        // A second builder sees the same first 300 bars, then a wildly different future: the first 300 snapshots are the same.
        for (var i = 0; i < 400; i++)
        {
            var bar = i < 300 ? bars[i] : bars[i] with { High = bars[i].High * 2, Close = bars[i].Close * 2, Open = bars[i].Open * 2 };
            b.Update(bar);
            if (i < 300)
            {
                b.Snapshot(null).Values.ShouldBe(snapshots[i].Values);
            }
        }
    }

    [Fact]
    public void MarketFeatures_AreMissingUntilTheirLookBackIsFull_ThenAllPresent()
    {
        var bars = RealGold(200);
        var f = new FeatureBuilder();
        f.Update(bars[0]);
        var first = f.Snapshot(null).Values;
        float.IsNaN(first[0]).ShouldBeTrue("compression needs 96 bars");
        float.IsNaN(first[5]).ShouldBeTrue("ret_64 needs 65 bars");
        for (var i = 1; i < 200; i++)
        {
            f.Update(bars[i]);
        }

        f.Ready.ShouldBeTrue();
        var v = f.Snapshot(null).Values;
        v.Take(13).ShouldAllBe(x => !float.IsNaN(x));
        v.Skip(13).ShouldAllBe(x => float.IsNaN(x), "trade features are missing for an entry");
        var withTrade = f.Snapshot(new TradeState(1, 1.5, 2.0, 7, 0.5, 1)).Values;
        withTrade.Skip(13).ShouldBe([1.5f, 2.0f, 7f, 0.5f, 1f]);
    }

    [Fact]
    public void MarketFeatures_AreScaleFree_SoAPriceLevelOrUnitChangeDoesNotMoveThem()
    {
        var bars = RealGold(150);
        var a = new FeatureBuilder();
        var b = new FeatureBuilder();
        foreach (var bar in bars)
        {
            a.Update(bar);
            b.Update(bar with { Open = bar.Open * 100, High = bar.High * 100, Low = bar.Low * 100, Close = bar.Close * 100 });
        }

        var x = a.Snapshot(null).Values;
        var y = b.Snapshot(null).Values;
        for (var i = 0; i < 13; i++)
        {
            if (FeatureBuilder.Schema[i].Name == "atr_rel" || FeatureBuilder.Schema[i].Unit is "ATR" or "ratio" or "fraction" or "hour" or "count")
            {
                ((double)y[i]).ShouldBe(x[i], Math.Abs(x[i]) * 1e-4 + 1e-6, FeatureBuilder.Schema[i].Name);
            }
        }
    }

    [Fact]
    public void Update_RefusesABarThatClosesBeforeThePreviousOne()
    {
        var bars = RealGold(3);
        var f = new FeatureBuilder();
        f.Update(bars[1]);
        Should.Throw<ArgumentException>(() => f.Update(bars[0])).Message.ShouldContain("before the previous bar");
    }

    [Fact]
    public void Inputs_RoundTripExactly_AndCarryAsOfAndCodeHash()
    {
        var f = new FeatureBuilder();
        foreach (var bar in RealGold(120))
        {
            f.Update(bar);
        }

        var v = f.Snapshot(new TradeState(-1, 0.25, 1.75, 3, 1.1, 0));
        var inputs = v.ToInputs().ToDictionary(kv => kv.Key, kv => kv.Value);
        inputs[FeatureVector.CodeKey].ShouldBe(FeatureBuilder.CodeHash[..16]);
        var back = FeatureVector.FromInputs(inputs)!;
        back.AsOfUtc.ShouldBe(v.AsOfUtc);
        back.Values.ShouldBe(v.Values);
        FeatureVector.FromInputs(new Dictionary<string, string>()).ShouldBeNull();
        inputs.Remove(FeatureVector.InputPrefix + "ema_gap");
        Should.Throw<FormatException>(() => FeatureVector.FromInputs(inputs)).Message.ShouldContain("ema_gap");
    }

    [Fact]
    public void CodeHash_IsASha256OverTheFeatureCode_StableWithinABuild()
    {
        FeatureBuilder.CodeHash.Length.ShouldBe(64);
        FeatureBuilder.CodeHash.ShouldAllBe(c => Uri.IsHexDigit(c));
        FeatureBuilder.Names.Count.ShouldBe(FeatureBuilder.Schema.Count);
        FeatureBuilder.Names.Distinct().Count().ShouldBe(FeatureBuilder.Names.Count);
    }
}
