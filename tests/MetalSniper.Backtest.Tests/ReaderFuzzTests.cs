using System.IO.Compression;
using System.Text;
using CsCheck;
using MetalSniper.Calendars;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;

namespace MetalSniper.Backtest.Tests;

/// <summary>
/// The replay readers against generated malformed files: every input ends in accepted bars, counted row rejections, or one
/// <see cref="DataFileException"/> naming the file on one line — never any other exception (which the host would turn into a
/// fault, exit 70 and a stack trace).
/// </summary>
public sealed class ReaderFuzzTests : IDisposable
{
    private static readonly ExchangeCalendar Calendar = new();

    private static readonly string[] Headers =
    [
        "time,open,high,low,close,volume", "time,open,high,low,close,volume,spread_points", "close,open,time,low,high", "time,open,high,low",
        "", " ", "a,b,c", "\"time\",open,high,low,close,volume", "time;open;high;low;close;volume", "TIME,OPEN,HIGH,LOW,CLOSE",
        "date,open,high,low,close,adj_close,volume", "date,close", "date,adj_close", "date,open,close", "\uFEFFtime,open,high,low,close,volume",
        "time,open,high,low,close,volume,time",
    ];

    private static readonly string[] Fields =
    [
        "2025-06-13T12:30:00Z", "2025-06-13T12:45:00Z", "2025-06-13T12:30:00+02:00", "2025-06-13 12:30:00", "13/06/2025", "2025-06-13", "2025-06-16",
        "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "", "abc", "3431.55", "3434.53", "3426.66", "0", "-1", "1e400", "-1e400", "1.5e3", "1E-400",
        "99999999999999999999999999999999", "-99999999999999999999999999999", "79228162514264337593543950336", "NaN", "Infinity", "-Infinity",
        "0.0000000000000000000000000001", "\"", "\"3431.55\"", "\"3,431.55\"", "3,431.55", "٣٤٣١", "\u0000", " 3431.55 ", "0x10", "+5", "--5",
        "\"unterminated", "a\"b", "\r", "\u2028", new string('9', 400),
    ];

    // In memory where the host has it (/dev/shm): 100,000 small files on a disk would make the test slow, not better.
    private readonly DirectoryInfo _dir = Directory.Exists("/dev/shm")
        ? Directory.CreateDirectory(Path.Combine("/dev/shm", "ms-fuzz-" + Guid.NewGuid().ToString("N")))
        : Directory.CreateTempSubdirectory("ms-fuzz-");

    public void Dispose() => _dir.Delete(true);

    /// <summary>Well-formed rows of the intraday and the daily layouts (so that files mix good rows with bad ones).</summary>
    private static readonly string[] GoodRows =
    [
        "2025-06-13T12:30:00Z,3427.89,3434.53,3426.66,3431.55,0", "2025-06-13T12:45:00Z,3431.53,3438.15,3429.61,3436.78,0",
        "2025-06-13T13:00:00Z,3436.78,3440.00,3430.00,3435.00,12", "2025-06-16,10.5,11.0,10.0,10.8,10.8,1000", "2025-06-17,10.8", "2025-06-18,10.9,11.2,10.7,11.0",
    ];

    private static readonly Gen<string> Row = Gen.Frequency(
        (3, Gen.OneOf(GoodRows)),
        (2, Gen.OneOf(Fields).Array[0, 9].Select(f => string.Join(',', f))));

    private static readonly Gen<string> Csv =
        Gen.Select(Gen.OneOf(Headers), Row.Array[0, 12], Gen.OneOf("\n", "\r\n", "\r"),
            (header, rows, newline) => string.Join(newline, [header, .. rows]));

    /// <summary>How the text is stored: 0 gzip, 1 gzip cut short, 2 gzip with a flipped byte, 3 plain text named .gz, 4 random bytes named .gz, 5 plain .csv, 6 random bytes .csv.</summary>
    private static readonly Gen<(string Text, int Container, int Kind, byte[] Noise, int Cut)> Inputs =
        Gen.Select(Csv, Gen.Int[0, 6], Gen.Int[0, 2], Gen.Byte.Array[0, 256], Gen.Int[0, 1000]);

    [Fact]
    public void Readers_OnHundredThousandMalformedFiles_EndInRowsRejectionsOrOneLineDataErrors()
    {
        long dataErrors = 0, bars = 0, rejected = 0;
        Inputs.Sample(input =>
        {
            var (path, file) = Write(input);
            try
            {
                var counters = new IngestCounters();
                var validator = new BarValidator(InstrumentCatalog.CreateDefault(), counters);
                var source = new ReplayMarketDataSource([file], TimeProvider.System, 0, calendar: Calendar);
                try
                {
                    foreach (var record in source.StreamAsync(CancellationToken.None).ToBlockingEnumerable())
                    {
                        validator.Validate(record, DateTimeOffset.UnixEpoch, out _);
                    }

                    Interlocked.Add(ref bars, counters.Accepted);
                    Interlocked.Add(ref rejected, counters.Rejected);
                }
                catch (DataFileException e)
                {
                    Interlocked.Increment(ref dataErrors);
                    if (!e.Message.Contains(path, StringComparison.Ordinal) || e.Message.Contains('\n') || e.FilePath != path)
                    {
                        throw new InvalidOperationException($"a data error must name its file on one line: {e.Message}");
                    }
                }
            }
            finally
            {
                File.Delete(path);
            }
        }, iter: 100_000);

        // Every outcome was met (a generator that only ever produced data errors would test nothing).
        dataErrors.ShouldBeGreaterThan(1000);
        bars.ShouldBeGreaterThan(100);
        rejected.ShouldBeGreaterThan(1000);
    }

    private (string Path, ReplayFile File) Write((string Text, int Container, int Kind, byte[] Noise, int Cut) input)
    {
        var bytes = Encoding.UTF8.GetBytes(input.Text);
        var gz = input.Container is 0 or 1 or 2 or 3 or 4;
        var path = Path.Combine(_dir.FullName, Guid.NewGuid().ToString("N") + (gz ? ".csv.gz" : ".csv"));
        var gzipped = input.Container is 0 or 1 or 2 ? Gzip(bytes) : [];
        byte[] content = input.Container switch
        {
            0 => gzipped,
            1 => gzipped[..(input.Cut % (gzipped.Length + 1))],
            2 => Flip(gzipped, input.Cut),
            3 or 5 => bytes,
            _ => input.Noise,
        };
        File.WriteAllBytes(path, content);
        var file = input.Kind switch
        {
            0 => new ReplayFile("XAUUSD", path, TimeSpan.FromMinutes(15), 0.01m),
            1 => ReplayFile.DailySnapshot("RDSA.L", path, DailyPriceColumn.Close),
            _ => ReplayFile.DailySession("RDSA.L", path, Venues.Lse, DailyPriceColumn.Close),
        };
        return (path, file);
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(bytes);
        }

        return memory.ToArray();
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        if (bytes.Length > 0)
        {
            bytes[at % bytes.Length] ^= 0x5A;
        }

        return bytes;
    }
}
