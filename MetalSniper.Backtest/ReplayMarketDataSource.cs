using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using CsvHelper;
using MetalSniper.Core.MarketData;

namespace MetalSniper.Backtest;

/// <summary>One recorded bar file to replay.</summary>
/// <param name="Symbol">Instrument symbol the file holds.</param>
/// <param name="Path">Full path of a CSV or gzip CSV file with header <c>time,open,high,low,close,volume[,spread_points]</c>; <c>time</c> is the bar open time, ISO-8601 with an explicit UTC offset.</param>
/// <param name="Interval">Bar interval.</param>
/// <param name="SpreadPointSize">Price value of one <c>spread_points</c> unit (0.01 USD for the XAUUSD M1 file); ignored when the file has no spread column.</param>
public sealed record ReplayFile(string Symbol, string Path, TimeSpan Interval, decimal SpreadPointSize);

/// <summary>
/// Replays recorded bar files (<c>../shared/data/metals/*.csv.gz</c>) as a market data source.
/// Files are streamed (never loaded whole) and merged across instruments by bar open time. Lines
/// that do not parse are yielded as <see cref="UnparseableRecord"/>s with a typed reason, never
/// skipped. The source reads ahead of the pipeline; replay time is not set here but by the
/// execution service as the broker side applies each bar (see <c>ReplayTimeProvider</c>).
/// </summary>
public sealed class ReplayMarketDataSource : IMarketDataSource
{
    private readonly IReadOnlyList<ReplayFile> _files;
    private readonly TimeProvider _wallClock;
    private readonly double _paceBarsPerSecond;
    private readonly DateTimeOffset? _fromUtc;
    private readonly DateTimeOffset? _toUtc;
    private long _outsideWindow;
    private readonly long _totalBytes;
    private long _consumedBytes;
    private long _recordsYielded;
    private long _lastOpenTicks;
    private int _completed;

    /// <summary>Creates the source.</summary>
    /// <param name="files">Files to merge.</param>
    /// <param name="wallClock">Real time, used only for pacing.</param>
    /// <param name="paceBarsPerSecond">0 = as fast as the pipeline takes them; otherwise bars per wall-clock second.</param>
    /// <param name="fromUtc">Only bars opening at or after this time (null: from the start).</param>
    /// <param name="toUtc">Only bars opening before this time (null: to the end).</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    public ReplayMarketDataSource(IReadOnlyList<ReplayFile> files, TimeProvider wallClock, double paceBarsPerSecond, DateTimeOffset? fromUtc = null, DateTimeOffset? toUtc = null)
    {
        _fromUtc = fromUtc;
        _toUtc = toUtc;
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            throw new ArgumentException("replay needs at least one file", nameof(files));
        }

        foreach (var f in files)
        {
            if (!File.Exists(f.Path))
            {
                throw new FileNotFoundException($"replay file for {f.Symbol} not found at '{f.Path}'", f.Path);
            }
        }

        ArgumentOutOfRangeException.ThrowIfNegative(paceBarsPerSecond);
        _files = files;
        _totalBytes = files.Sum(f => new FileInfo(f.Path).Length);
        _wallClock = wallClock;
        _paceBarsPerSecond = paceBarsPerSecond;
    }

    /// <inheritdoc />
    public bool IsReplay => true;

    /// <summary>Well-formed bars skipped because they lie outside the requested window (counted, not rejected).</summary>
    public long OutsideWindow => Interlocked.Read(ref _outsideWindow);

    /// <summary>Records (bars and unparseable lines) handed to the pipeline so far by the current stream. Thread-safe.</summary>
    public long RecordsYielded => Volatile.Read(ref _recordsYielded);

    /// <summary>
    /// A read-only estimate of how much of the input this source has read, 0–1 (1 once the stream has ended); null before the
    /// first record. With both <c>fromUtc</c> and <c>toUtc</c> set it is the share of that window up to the last bar handed
    /// out; otherwise the share of the files' bytes (compressed, as stored) read, updated every 1,024 records. The source reads
    /// ahead of the pipeline: scale by the pipeline's bars done over <see cref="RecordsYielded"/> for the pipeline's progress.
    /// Thread-safe; for progress displays only (never used by the replay itself).
    /// </summary>
    public double? FractionRead
    {
        get
        {
            if (Volatile.Read(ref _completed) != 0)
            {
                return 1d;
            }

            if (RecordsYielded == 0)
            {
                return null;
            }

            if (_fromUtc is { } from && _toUtc is { } to && to > from)
            {
                var last = Volatile.Read(ref _lastOpenTicks);
                return last == 0 ? null : Math.Clamp((double)(last - from.UtcTicks) / (to.UtcTicks - from.UtcTicks), 0d, 1d);
            }

            return _totalBytes > 0 ? Math.Clamp((double)Volatile.Read(ref _consumedBytes) / _totalBytes, 0d, 1d) : null;
        }
    }

    /// <inheritdoc />
    public string Name => "replay:" + string.Join('+', _files.Select(f => System.IO.Path.GetFileName(f.Path)));

    /// <inheritdoc />
    public async IAsyncEnumerable<MarketDataRecord> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var readers = _files.Select(f => new BarFileReader(f)).ToList();
        Volatile.Write(ref _completed, 0);
        Interlocked.Exchange(ref _recordsYielded, 0);
        Interlocked.Exchange(ref _consumedBytes, 0);
        Interlocked.Exchange(ref _lastOpenTicks, 0);
        try
        {
            var heads = new MarketDataRecord?[readers.Count];
            for (var i = 0; i < readers.Count; i++)
            {
                heads[i] = readers[i].Next();
            }

            var paceInterval = _paceBarsPerSecond > 0 ? TimeSpan.FromSeconds(1d / _paceBarsPerSecond) : TimeSpan.Zero;
            var nextDue = _wallClock.GetTimestamp();
            long yielded = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var pick = -1;
                for (var i = 0; i < heads.Length; i++)
                {
                    if (heads[i] is null)
                    {
                        continue;
                    }

                    if (pick < 0 || Precedes(heads[i]!, heads[pick]!))
                    {
                        pick = i;
                    }
                }

                if (pick < 0)
                {
                    Volatile.Write(ref _completed, 1);
                    yield break;
                }

                var record = heads[pick]!;
                heads[pick] = readers[pick].Next();
                if (record is RawBarRecord { Bar: var b } && ((_fromUtc is { } from && b.OpenTimeUtc < from) || (_toUtc is { } to && b.OpenTimeUtc >= to)))
                {
                    Interlocked.Increment(ref _outsideWindow);
                    continue;
                }
                if (paceInterval > TimeSpan.Zero)
                {
                    nextDue += (long)(paceInterval.TotalSeconds * _wallClock.TimestampFrequency);
                    var wait = _wallClock.GetElapsedTime(_wallClock.GetTimestamp(), nextDue);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, _wallClock, cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (++yielded % 4096 == 0)
                {
                    await Task.Yield();
                }

                // Progress for displays (FractionRead): plain stores of the one writer (this loop), the read positions every 1,024 records.
                if (record is RawBarRecord { Bar: var yieldedBar })
                {
                    Volatile.Write(ref _lastOpenTicks, yieldedBar.OpenTimeUtc.UtcTicks);
                }

                var n = _recordsYielded + 1;
                Volatile.Write(ref _recordsYielded, n);
                if ((n & 1023) == 0)
                {
                    Volatile.Write(ref _consumedBytes, readers.Sum(r => r.BytesRead));
                }

                yield return record;
            }
        }
        finally
        {
            foreach (var r in readers)
            {
                r.Dispose();
            }
        }
    }

    // Unparseable records go first (they carry no usable time); then earliest open time; ties by file order.
    private static bool Precedes(MarketDataRecord a, MarketDataRecord b) => (a, b) switch
    {
        (UnparseableRecord, _) => b is not UnparseableRecord,
        (RawBarRecord x, RawBarRecord y) => x.Bar.OpenTimeUtc < y.Bar.OpenTimeUtc,
        _ => false,
    };

    /// <summary>Streams one file, parsing each line into a record (CsvHelper's UTF-8 reader: fields are spans, no string per field).</summary>
    private sealed class BarFileReader : IDisposable
    {
        private readonly ReplayFile _file;
        private readonly string _name;
        private readonly CsvReader _csv;
        private readonly FileStream _fileStream;
        private readonly int _time, _open, _high, _low, _close, _volume, _spread, _fieldCount;

        public BarFileReader(ReplayFile file)
        {
            _file = file;
            _name = System.IO.Path.GetFileName(file.Path);
            _fileStream = File.OpenRead(file.Path);
            Stream stream = _fileStream;
            if (file.Path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                stream = new GZipStream(stream, CompressionMode.Decompress);
            }

            _csv = CsvReader.Create(stream, new CsvReaderOptions { Separator = ',', HasHeader = true, TrackLineNumbers = true, FormatProvider = CultureInfo.InvariantCulture }, leaveOpen: false);
            var header = _csv.Headers;
            if (header.Count == 0)
            {
                throw new InvalidDataException($"replay file '{file.Path}' is empty: a header 'time,open,high,low,close,volume' is required");
            }

            int Col(string name, bool required)
            {
                if (_csv.TryGetFieldIndex(name, out var i))
                {
                    return i;
                }

                return required
                    ? throw new InvalidDataException($"replay file '{file.Path}' has no '{name}' column; header is '{string.Join(',', header)}'")
                    : -1;
            }

            _time = Col("time", true);
            _open = Col("open", true);
            _high = Col("high", true);
            _low = Col("low", true);
            _close = Col("close", true);
            _volume = Col("volume", false);
            _spread = Col("spread_points", false);
            _fieldCount = header.Count;
        }

        /// <summary>Bytes of the file (as stored, compressed or not) read so far, read-ahead buffers included. The streaming thread only.</summary>
        public long BytesRead => _fileStream.Position;

        public MarketDataRecord? Next()
        {
            if (!_csv.Read())
            {
                return null;
            }

            long line = _csv.LineNumber;
            if (_csv.FieldCount != _fieldCount)
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.MalformedLine, $"expected {_fieldCount} fields, got {_csv.FieldCount}: '{RawText()}'");
            }

            if (!TryParseUtc(_csv.GetSpan(_time), out var openTime))
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.UnparseableTimestamp, $"time '{Encoding.UTF8.GetString(_csv.GetSpan(_time))}' is not ISO-8601 with a UTC offset");
            }

            if (!TryNumber(_open, out var o) || !TryNumber(_high, out var h) || !TryNumber(_low, out var l) || !TryNumber(_close, out var c)
                || !TryOptional(_volume, out var v) || !TryOptional(_spread, out var sp))
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.UnparseableNumber, $"a number does not parse: '{RawText()}'");
            }

            double? spread = _spread >= 0 ? sp * (double)_file.SpreadPointSize : null;
            return new RawBarRecord(new RawBar(_name, line, _file.Symbol, openTime, _file.Interval, o, h, l, c, v, spread));
        }

        private string RawText() => Encoding.UTF8.GetString(_csv.RawRecord);

        private bool TryNumber(int column, out double value) =>
            double.TryParse(_csv.GetSpan(column), NumberStyles.Float, CultureInfo.InvariantCulture, out value);

        private bool TryOptional(int column, out double value)
        {
            if (column < 0)
            {
                value = 0d;
                return true;
            }

            return TryNumber(column, out value);
        }

        /// <summary>
        /// Parses ISO-8601 with an explicit offset. Fast path for "yyyy-MM-ddTHH:mm:ssZ"; other
        /// offset forms go through the framework parser. A bare local time is ambiguous and refused.
        /// </summary>
        internal static bool TryParseUtc(ReadOnlySpan<byte> t, out DateTimeOffset value)
        {
            t = t.Trim((byte)' ');
            if (t.Length == 20 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == 'Z'
                && Digits(t, 0, 4, out var y) && Digits(t, 5, 2, out var mo) && Digits(t, 8, 2, out var d)
                && Digits(t, 11, 2, out var hh) && Digits(t, 14, 2, out var mm) && Digits(t, 17, 2, out var ss)
                && mo is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, mo) && hh < 24 && mm < 60 && ss < 60)
            {
                value = new DateTimeOffset(y, mo, d, hh, mm, ss, TimeSpan.Zero);
                return true;
            }

            var hasOffset = t.Length > 6 && (t[^1] is (byte)'Z' or (byte)'z' || (t[^6] is (byte)'+' or (byte)'-' && t[^3] == ':'));
            if (hasOffset && DateTimeOffset.TryParse(Encoding.ASCII.GetString(t), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out value))
            {
                value = value.ToUniversalTime();
                return true;
            }

            value = default;
            return false;
        }

        private static bool Digits(ReadOnlySpan<byte> t, int start, int count, out int value)
        {
            value = 0;
            for (var i = start; i < start + count; i++)
            {
                var digit = t[i] - '0';
                if ((uint)digit > 9)
                {
                    return false;
                }

                value = (value * 10) + digit;
            }

            return value >= 0 && (count != 4 || value >= 1);
        }

        public void Dispose() => _csv.Dispose();
    }
}
