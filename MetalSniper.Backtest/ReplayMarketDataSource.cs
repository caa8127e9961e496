using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using CsvHelper;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Sessions;

namespace MetalSniper.Backtest;

/// <summary>What kind of rows a replayed file holds.</summary>
public enum ReplayFileKind
{
    /// <summary>Intraday bars: header <c>time,open,high,low,close[,volume][,spread_points]</c>, <c>time</c> the bar open time (ISO-8601 with a UTC offset), every bar <see cref="ReplayFile.Interval"/> long.</summary>
    Intraday,

    /// <summary>
    /// One row per trading date of a venue (<c>date,open,high,low,close[,adj_close][,volume]</c> or <c>date,close</c> /
    /// <c>date,adj_close</c>): each row is one bar from the venue's session open to its session close on that date, taken
    /// from the exchange calendar (daylight saving and half days included). A row on a date without a session is refused
    /// (<see cref="BarRejectReason.NotATradingDate"/>).
    /// </summary>
    DailySession,

    /// <summary>
    /// One row per date that is a snapshot of the rate near 00:00 Europe/London of its date (Yahoo's daily FX rows, see
    /// <c>../shared/data/README.md</c>, "FX timing"): each row is a one-minute bar ending at 00:00 London of its date, with
    /// open = high = low = close = the chosen column (the row's high and low are the whole day's range, not knowable at
    /// 00:00). Not checked against a venue calendar: Yahoo publishes rows on 25 Dec and 1 Jan, and a snapshot is an observed rate.
    /// </summary>
    DailySnapshot,
}

/// <summary>Which price column of a daily file is the bar's close.</summary>
public enum DailyPriceColumn
{
    /// <summary><c>close</c> (raw). With <c>open,high,low</c> present the bar keeps them, the envelope clamped to the four prices.</summary>
    Close,

    /// <summary>
    /// <c>adj_close</c> (Yahoo's adjusted close). With <c>open,high,low,close</c> present, open, high and low are scaled by
    /// adj_close / close (Yahoo's own adjustment) and the envelope clamped; otherwise open = high = low = close = adj_close.
    /// </summary>
    AdjClose,
}

/// <summary>One recorded bar file to replay.</summary>
/// <param name="Symbol">Instrument symbol the file holds.</param>
/// <param name="Path">Full path of a CSV or gzip CSV file. Intraday: header <c>time,open,high,low,close,volume[,spread_points]</c>; <c>time</c> is the bar open time, ISO-8601 with an explicit UTC offset. Daily: see <see cref="ReplayFileKind"/>.</param>
/// <param name="Interval">Bar interval of an intraday file (a daily file's bars take their length from the calendar; one day is stored here, unused).</param>
/// <param name="SpreadPointSize">Price value of one <c>spread_points</c> unit (0.01 USD for the XAUUSD M1 file); ignored when the file has no spread column.</param>
public sealed record ReplayFile(string Symbol, string Path, TimeSpan Interval, decimal SpreadPointSize)
{
    /// <summary>What the rows are (intraday by default).</summary>
    public ReplayFileKind Kind { get; init; } = ReplayFileKind.Intraday;

    /// <summary>The venue whose calendar sessions a <see cref="ReplayFileKind.DailySession"/> file's rows span (the instrument's exchange: LSE, JSE, AEX, NYSE); null otherwise.</summary>
    public string? Venue { get; init; }

    /// <summary>The column a daily file's close comes from (default <see cref="DailyPriceColumn.Close"/>); unused for intraday files.</summary>
    public DailyPriceColumn Column { get; init; } = DailyPriceColumn.Close;

    /// <summary>A daily file of a venue's trading dates: one bar per row, session open to session close of the row's date (the calendar's).</summary>
    /// <param name="symbol">Instrument symbol.</param>
    /// <param name="path">Full path of the file.</param>
    /// <param name="venue">The instrument's venue code (sessions from the calendar).</param>
    /// <param name="column">The close column.</param>
    public static ReplayFile DailySession(string symbol, string path, string venue, DailyPriceColumn column) =>
        new(symbol, path, TimeSpan.FromDays(1), 0m) { Kind = ReplayFileKind.DailySession, Venue = venue, Column = column };

    /// <summary>A daily file of snapshots at 00:00 Europe/London of each date (Yahoo FX): one one-minute bar ending at that instant per row.</summary>
    /// <param name="symbol">Instrument symbol.</param>
    /// <param name="path">Full path of the file.</param>
    /// <param name="column">The price column.</param>
    public static ReplayFile DailySnapshot(string symbol, string path, DailyPriceColumn column) =>
        new(symbol, path, TimeSpan.FromDays(1), 0m) { Kind = ReplayFileKind.DailySnapshot, Column = column };
}

/// <summary>
/// Replays recorded bar files (<c>../shared/data/metals/*.csv.gz</c> intraday, <c>../shared/data/dual_listed/**</c> daily)
/// as a market data source. Files are streamed (never loaded whole) and merged across instruments by bar <b>close</b> time
/// (the instant a bar becomes knowable; ties by file order), so a daily bar (LSE 08:00–16:30) comes after every hourly
/// metals bar that closes before 16:30: causal. For files of one common interval this is the same order as by open time.
/// Lines that do not parse, and daily rows dated on a day the venue does not trade, are yielded as
/// <see cref="UnparseableRecord"/>s with a typed reason, never skipped. The source reads ahead of the pipeline; replay time
/// is not set here but by the execution service as the broker side applies each bar (see <c>ReplayTimeProvider</c>).
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
    private long _envelopeClamped;
    private int _completed;
    private readonly IExchangeCalendar? _calendar;

    /// <summary>Creates the source.</summary>
    /// <param name="files">Files to merge.</param>
    /// <param name="wallClock">Real time, used only for pacing.</param>
    /// <param name="paceBarsPerSecond">0 = as fast as the pipeline takes them; otherwise bars per wall-clock second.</param>
    /// <param name="fromUtc">Only bars opening at or after this time (null: from the start). The window is on bar <b>open</b> time for every kind of file (a daily bar opens at its session open).</param>
    /// <param name="toUtc">Only bars opening before this time (null: to the end).</param>
    /// <param name="calendar">The exchange calendar: the sessions of <see cref="ReplayFileKind.DailySession"/> files (required when there is one).</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="ArgumentException">No file, a daily session file without a venue, or one without a calendar.</exception>
    public ReplayMarketDataSource(IReadOnlyList<ReplayFile> files, TimeProvider wallClock, double paceBarsPerSecond, DateTimeOffset? fromUtc = null, DateTimeOffset? toUtc = null,
        IExchangeCalendar? calendar = null)
    {
        _fromUtc = fromUtc;
        _toUtc = toUtc;
        _calendar = calendar;
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            throw new ArgumentException("replay needs at least one file", nameof(files));
        }

        foreach (var f in files)
        {
            if (f.Kind == ReplayFileKind.DailySession && (string.IsNullOrWhiteSpace(f.Venue) || calendar is null))
            {
                throw new ArgumentException($"daily file '{f.Path}' of {f.Symbol} needs a venue and an exchange calendar (venue was '{f.Venue}', calendar {(calendar is null ? "missing" : "given")})", nameof(files));
            }

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

    /// <summary>Daily rows whose open, high or low lay outside the envelope of the four prices and were clamped (high = max, low = min; the Yahoo rows, see the data README). Thread-safe.</summary>
    public long EnvelopeClamped => Interlocked.Read(ref _envelopeClamped);

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
        var readers = _files.Select(f => Guarded(f, () => f.Kind == ReplayFileKind.Intraday ? (IRecordReader)new BarFileReader(f) : new DailyFileReader(f, _calendar))).ToList();
        var rows = new long[readers.Count];
        var steps = readers.Select(r => (Func<MarketDataRecord?>)r.Next).ToArray(); // one delegate per file, not one per record

        // A file that cannot be read as a bar file (not gzip, a malformed CSV, a header and no rows) is a data error naming it.
        MarketDataRecord? Next(int i)
        {
            var next = Guarded(_files[i], steps[i]);
            if (next is null && rows[i] == 0)
            {
                throw new DataFileException(_files[i].Path, $"has a header but no rows: nothing of {_files[i].Symbol} to replay");
            }

            rows[i]++;
            return next;
        }
        Volatile.Write(ref _completed, 0);
        Interlocked.Exchange(ref _recordsYielded, 0);
        Interlocked.Exchange(ref _consumedBytes, 0);
        Interlocked.Exchange(ref _lastOpenTicks, 0);
        try
        {
            var heads = new MarketDataRecord?[readers.Count];
            for (var i = 0; i < readers.Count; i++)
            {
                heads[i] = Next(i);
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
                var clamped = readers[pick].HeadClamped;
                heads[pick] = Next(pick);
                if (record is RawBarRecord { Bar: var b } && ((_fromUtc is { } from && b.OpenTimeUtc < from) || (_toUtc is { } to && b.OpenTimeUtc >= to)))
                {
                    Interlocked.Increment(ref _outsideWindow);
                    continue;
                }

                if (clamped)
                {
                    Interlocked.Increment(ref _envelopeClamped);
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

    // Unparseable records go first (they carry no usable time); then earliest close time (when the bar is knowable); ties by
    // file order. With one common interval this is the order by open time (the golden replays' order is unchanged).
    private static bool Precedes(MarketDataRecord a, MarketDataRecord b) => (a, b) switch
    {
        (UnparseableRecord, _) => b is not UnparseableRecord,
        (RawBarRecord x, RawBarRecord y) => x.Bar.OpenTimeUtc + x.Bar.Interval < y.Bar.OpenTimeUtc + y.Bar.Interval,
        _ => false,
    };

    /// <summary>One file's records in file order.</summary>
    /// <summary>Runs a reader's step; what the file's content makes the runtime or the CSV reader throw becomes a <see cref="DataFileException"/> naming the file.</summary>
    private static T Guarded<T>(ReplayFile file, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (DataFileException)
        {
            throw;
        }
        catch (InvalidDataException e) when (e.Message.Contains(file.Path, StringComparison.Ordinal))
        {
            throw new DataFileException(file.Path, e.Message, e);
        }
        catch (InvalidDataException e) when (file.Path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            throw new DataFileException(file.Path, $"is not a readable gzip file ({e.Message})", e);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or DecoderFallbackException or EndOfStreamException or CsvFormatException)
        {
            throw new DataFileException(file.Path, $"cannot be read as CSV: {e.Message}", e);
        }
    }

    /// <summary>A header as a message can show it: at most 80 characters, anything unprintable as '?' (a binary file's first line).</summary>
    private static string Printable(string text)
    {
        var shown = text.Length > 80 ? text[..80] + "…" : text;
        return new string([.. shown.Select(c => char.IsControl(c) || c == '\uFFFD' ? '?' : c)]);
    }

    private interface IRecordReader : IDisposable
    {
        /// <summary>Bytes of the file (as stored) read so far.</summary>
        long BytesRead { get; }

        /// <summary>True when the record last returned by <see cref="Next"/> had its envelope clamped (daily Yahoo rows).</summary>
        bool HeadClamped { get; }

        /// <summary>The next record, or null at the end.</summary>
        MarketDataRecord? Next();
    }

    /// <summary>Streams one file, parsing each line into a record (CsvHelper's UTF-8 reader: fields are spans, no string per field).</summary>
    private sealed class BarFileReader : IRecordReader
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
                    ? throw new InvalidDataException($"replay file '{file.Path}' has no '{name}' column; header is '{Printable(string.Join(',', header))}'")
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

        /// <summary>Intraday bars are never clamped.</summary>
        public bool HeadClamped => false;

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

        internal static bool Digits(ReadOnlySpan<byte> t, int start, int count, out int value)
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

    /// <summary>
    /// Streams one daily file (<see cref="ReplayFileKind.DailySession"/> or <see cref="ReplayFileKind.DailySnapshot"/>): each
    /// row <c>date,…</c> becomes one bar whose times come from the venue's calendar session (or 00:00 London for a snapshot).
    /// </summary>
    private sealed class DailyFileReader : IRecordReader
    {
        /// <summary>The zone of Yahoo's FX snapshot instant (00:00 of the row's date, see the data README "FX timing").</summary>
        private static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");

        /// <summary>Length of a snapshot bar: it ends at the snapshot instant.</summary>
        private static readonly TimeSpan SnapshotBar = TimeSpan.FromMinutes(1);

        private readonly ReplayFile _file;
        private readonly string _name;
        private readonly IExchangeCalendar? _calendar;
        private readonly CsvReader _csv;
        private readonly FileStream _fileStream;
        private readonly int _date, _open, _high, _low, _closeRaw, _price, _volume, _fieldCount;

        public DailyFileReader(ReplayFile file, IExchangeCalendar? calendar)
        {
            _file = file;
            _name = System.IO.Path.GetFileName(file.Path);
            _calendar = calendar;
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
                throw new InvalidDataException($"daily replay file '{file.Path}' is empty: a header 'date,open,high,low,close[,adj_close][,volume]' or 'date,close' / 'date,adj_close' is required");
            }

            int Col(string name) => _csv.TryGetFieldIndex(name, out var i) ? i : -1;
            _date = Col("date");
            _open = Col("open");
            _high = Col("high");
            _low = Col("low");
            _closeRaw = Col("close");
            _volume = Col("volume");
            var priceName = file.Column == DailyPriceColumn.AdjClose ? "adj_close" : "close";
            _price = Col(priceName);
            if (_date < 0 || _price < 0)
            {
                throw new InvalidDataException($"daily replay file '{file.Path}' of {file.Symbol} needs the columns 'date' and '{priceName}' (Column {file.Column}); header is '{Printable(string.Join(',', header))}'");
            }

            var ohlc = new[] { _open, _high, _low }.Count(i => i >= 0);
            if (ohlc is not (0 or 3) || (ohlc == 3 && _closeRaw < 0))
            {
                throw new InvalidDataException($"daily replay file '{file.Path}' has some but not all of 'open,high,low,close'; header is '{Printable(string.Join(',', header))}'");
            }

            if (file.Kind == ReplayFileKind.DailySnapshot || ohlc == 0)
            {
                _open = _high = _low = -1; // a snapshot's (or a close-only file's) bar is its one price
            }

            _fieldCount = header.Count;
        }

        public long BytesRead => _fileStream.Position;

        public bool HeadClamped { get; private set; }

        public MarketDataRecord? Next()
        {
            HeadClamped = false;
            if (!_csv.Read())
            {
                return null;
            }

            long line = _csv.LineNumber;
            if (_csv.FieldCount != _fieldCount)
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.MalformedLine, $"expected {_fieldCount} fields, got {_csv.FieldCount}: '{RawText()}'");
            }

            if (!TryParseDate(_csv.GetSpan(_date), out var date))
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.UnparseableTimestamp, $"date '{Encoding.UTF8.GetString(_csv.GetSpan(_date))}' is not YYYY-MM-DD");
            }

            if (!TryNumber(_price, out var c) || !TryOptional(_open, out var o) || !TryOptional(_high, out var h) || !TryOptional(_low, out var l)
                || !TryOptional(_volume, out var v) || (_open >= 0 && !TryNumber(_closeRaw, out _)))
            {
                return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.UnparseableNumber, $"a number does not parse: '{RawText()}'");
            }

            DateTimeOffset openUtc;
            TimeSpan interval;
            if (_file.Kind == ReplayFileKind.DailySnapshot)
            {
                var midnight = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
                var closeUtc = new DateTimeOffset(midnight, London.GetUtcOffset(midnight)).ToUniversalTime();
                (openUtc, interval) = (closeUtc - SnapshotBar, SnapshotBar);
            }
            else
            {
                var venue = _file.Venue!;
                var (first, last) = _calendar!.Coverage;
                if (date < first || date > last)
                {
                    return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.NotATradingDate, $"{date:yyyy-MM-dd} is outside the exchange calendar's coverage {first:yyyy-MM-dd} … {last:yyyy-MM-dd}: no {venue} session is known");
                }

                if (_calendar.Session(venue, date) is not { } session)
                {
                    var why = _calendar.Holiday(venue, date) is { } holiday ? $"holiday: {holiday}" : date.DayOfWeek.ToString();
                    return new UnparseableRecord(_name, line, _file.Symbol, BarRejectReason.NotATradingDate, $"{venue} has no session on {date:yyyy-MM-dd} ({why}): '{RawText()}'");
                }

                (openUtc, interval) = (session.OpenUtc, session.CloseUtc - session.OpenUtc);
            }

            if (_open < 0)
            {
                (o, h, l) = (c, c, c);
            }
            else
            {
                if (_file.Column == DailyPriceColumn.AdjClose)
                {
                    TryNumber(_closeRaw, out var raw);
                    var factor = c / raw;
                    (o, h, l) = (o * factor, h * factor, l * factor);
                }

                // Yahoo's open/high/low do not always bracket the close (data README): high = max, low = min of the four.
                var (hi, lo) = (Math.Max(Math.Max(o, h), Math.Max(l, c)), Math.Min(Math.Min(o, h), Math.Min(l, c)));
                if (hi != h || lo != l)
                {
                    HeadClamped = true;
                    (h, l) = (hi, lo);
                }
            }

            return new RawBarRecord(new RawBar(_name, line, _file.Symbol, openUtc, interval, o, h, l, c, v, null));
        }

        private static bool TryParseDate(ReadOnlySpan<byte> t, out DateOnly date)
        {
            t = t.Trim((byte)' ');
            if (t.Length == 10 && t[4] == '-' && t[7] == '-'
                && BarFileReader.Digits(t, 0, 4, out var y) && BarFileReader.Digits(t, 5, 2, out var m) && BarFileReader.Digits(t, 8, 2, out var d)
                && m is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, m))
            {
                date = new DateOnly(y, m, d);
                return true;
            }

            date = default;
            return false;
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

        public void Dispose() => _csv.Dispose();
    }
}
