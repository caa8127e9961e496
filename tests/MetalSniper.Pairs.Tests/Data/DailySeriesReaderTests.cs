using MetalSniper.Pairs.Data;
using MetalSniper.Testing;

namespace MetalSniper.Pairs.Tests.Data;

public sealed class DailySeriesReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pairs-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string text)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void RealJohannesburgFile_ReadsEveryRow_WithTheEnvelopeClamped()
    {
        var s = DailySeriesReader.Read(TestPaths.SharedDataFile("dual_listed/jse/AGL.JO.csv"));
        s.Rows.Count.ShouldBe(2_748);
        s.Rows.ShouldAllBe(r => r.Low <= r.Open && r.Low <= r.Close && r.High >= r.Open && r.High >= r.Close);
    }

    [Fact]
    public void AdjustedCloseOnlyFile_HasNoRange()
    {
        var s = DailySeriesReader.Read(TestPaths.SharedDataFile("dual_listed/lse/GLEN.L_adjclose.csv"), CloseColumn.AdjustedClose);
        s.Rows.Count.ShouldBe(2_776);
        s.Rows.ShouldAllBe(r => !r.HasRange);
    }

    [Theory]
    [InlineData("", "empty file")]
    [InlineData("date,close\n", "header only")]
    [InlineData("time,close\n2025-01-02,1\n", "first column must be 'date'")]
    [InlineData("date,open\n2025-01-02,1\n", "no 'close' column")]
    [InlineData("date,close\n02/01/2025,1\n", "line 2: date '02/01/2025' is not YYYY-MM-DD")]
    [InlineData("date,close\n2025-01-02,abc\n", "line 2: close 'abc' is not a number")]
    [InlineData("date,close\n2025-01-02,-3\n", "line 2: close -3 is not > 0")]
    [InlineData("date,close\n2025-01-02,1e400\n", "is not a number")]
    [InlineData("date,close\n2025-01-03,1\n2025-01-02,1\n", "line 3: date 2025-01-02 is not after 2025-01-03")]
    [InlineData("date,close\n2025-01-02,1,2\n", "line 2: 3 fields, the header has 2")]
    public void MalformedFile_IsRefused_NamingFileLineAndDefect(string text, string expected)
    {
        var path = Write(text);
        var e = Should.Throw<DailyDataException>(() => DailySeriesReader.Read(path));
        e.Message.ShouldStartWith(path);
        e.Message.ShouldContain(expected);
        e.Missing.ShouldBeFalse();
    }

    [Fact]
    public void MissingFile_IsRefusedAsMissing()
    {
        var e = Should.Throw<DailyDataException>(() => DailySeriesReader.Read(Path.Combine(_dir, "nope.csv")));
        e.Missing.ShouldBeTrue();
    }
}
