using System.Runtime.InteropServices;

namespace MetalSniper.Judges.XgBoost;

/// <summary>
/// A dense feature matrix in XGBoost's memory (<c>DMatrix</c>): rows of <see cref="Columns"/> float features, NaN for a
/// missing value, with an optional label per row. Dispose it (the native memory is freed).
/// </summary>
public sealed class XgbMatrix : IDisposable
{
    private readonly XgbMatrixHandle _handle;

    /// <summary>Copies <paramref name="rows"/> (row-major, <paramref name="columns"/> values per row) into a new matrix.</summary>
    /// <param name="rows">The features, row after row; NaN marks a missing value.</param>
    /// <param name="columns">Features per row (&gt; 0).</param>
    /// <param name="labels">One label per row, or null (prediction only); finite.</param>
    /// <exception cref="ArgumentException">The shapes do not match, or a label is not finite.</exception>
    /// <exception cref="XgbException">XGBoost refused the data.</exception>
    public unsafe XgbMatrix(ReadOnlySpan<float> rows, int columns, ReadOnlySpan<float> labels = default)
    {
        if (columns <= 0 || rows.Length == 0 || rows.Length % columns != 0)
        {
            throw new ArgumentException($"a matrix needs at least one row of {columns} columns; {rows.Length} values do not make whole rows", nameof(rows));
        }

        Rows = rows.Length / columns;
        Columns = columns;
        if (!labels.IsEmpty && labels.Length != Rows)
        {
            throw new ArgumentException($"{labels.Length} labels for {Rows} rows", nameof(labels));
        }

        foreach (var l in labels)
        {
            if (!float.IsFinite(l))
            {
                throw new ArgumentException($"labels must be finite, one was {l}", nameof(labels));
            }
        }

        IntPtr raw;
        fixed (float* p = rows)
        {
            XgbNative.Check(XgbNative.XGDMatrixCreateFromMat(p, (ulong)Rows, (ulong)columns, float.NaN, out raw), "XGDMatrixCreateFromMat");
        }

        _handle = XgbMatrixHandle.From(raw);
        if (!labels.IsEmpty)
        {
            fixed (float* l = labels)
            {
                XgbNative.Check(XgbNative.XGDMatrixSetFloatInfo(raw, "label", l, (ulong)labels.Length), "XGDMatrixSetFloatInfo(label)");
            }
        }
    }

    /// <summary>Rows in the matrix.</summary>
    public int Rows { get; }

    /// <summary>Features per row.</summary>
    public int Columns { get; }

    internal IntPtr Handle => _handle.DangerousGetHandle();

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}

/// <summary>
/// A gradient-boosted model (<c>Booster</c>): trained round by round on a matrix with string parameters (XGBoost's own
/// names: <c>objective</c>, <c>max_depth</c>, <c>eta</c>, <c>seed</c>, <c>nthread</c> …), predicting one value per row
/// (a probability for <c>binary:logistic</c>), saved and loaded as XGBoost's JSON model. Not thread-safe. Dispose it.
/// </summary>
public sealed class XgbBooster : IDisposable
{
    private readonly XgbBoosterHandle _handle;

    private XgbBooster(XgbBoosterHandle handle) => _handle = handle;

    /// <summary>The XGBoost library's version (1.7.4 from Debian's libxgboost0).</summary>
    public static Version LibraryVersion
    {
        get
        {
            XgbNative.XGBoostVersion(out var major, out var minor, out var patch);
            return new Version(major, minor, patch);
        }
    }

    /// <summary>
    /// True when the XGBoost library can be loaded on this machine; false when it is not installed (the
    /// <see cref="DllNotFoundException"/> that any other call would throw).
    /// </summary>
    public static bool IsLibraryAvailable
    {
        get
        {
            try
            {
                _ = LibraryVersion;
                return true;
            }
            catch (DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>Trains a model: <paramref name="rounds"/> boosting rounds on <paramref name="train"/> (which must have labels).</summary>
    /// <param name="train">The training matrix, with labels.</param>
    /// <param name="parameters">XGBoost parameters, applied in order.</param>
    /// <param name="rounds">Boosting rounds (&gt; 0).</param>
    /// <exception cref="XgbException">XGBoost refused a parameter or the data (its message).</exception>
    public static unsafe XgbBooster Train(XgbMatrix train, IEnumerable<KeyValuePair<string, string>> parameters, int rounds)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rounds);
        var booster = Create(train.Handle);
        try
        {
            foreach (var (name, value) in parameters)
            {
                XgbNative.Check(XgbNative.XGBoosterSetParam(booster._handle.DangerousGetHandle(), name, value), $"XGBoosterSetParam({name}={value})");
            }

            for (var i = 0; i < rounds; i++)
            {
                XgbNative.Check(XgbNative.XGBoosterUpdateOneIter(booster._handle.DangerousGetHandle(), i, train.Handle), "XGBoosterUpdateOneIter");
            }

            return booster;
        }
        catch
        {
            booster.Dispose();
            throw;
        }
    }

    /// <summary>Loads a model saved by <see cref="Save"/> (XGBoost's JSON model format).</summary>
    /// <exception cref="XgbException">The bytes are not a model XGBoost can read.</exception>
    public static unsafe XgbBooster Load(ReadOnlySpan<byte> model)
    {
        if (model.IsEmpty)
        {
            throw new XgbException("XGBoost model load failed: the model is empty");
        }

        var booster = Create(IntPtr.Zero);
        try
        {
            fixed (byte* p = model)
            {
                XgbNative.Check(XgbNative.XGBoosterLoadModelFromBuffer(booster._handle.DangerousGetHandle(), p, (ulong)model.Length), "XGBoosterLoadModelFromBuffer");
            }

            return booster;
        }
        catch
        {
            booster.Dispose();
            throw;
        }
    }

    /// <summary>One prediction per row of <paramref name="data"/> (probabilities for <c>binary:logistic</c>).</summary>
    /// <exception cref="XgbException">The matrix does not fit the model.</exception>
    public float[] Predict(XgbMatrix data)
    {
        ArgumentNullException.ThrowIfNull(data);
        XgbNative.Check(XgbNative.XGBoosterPredict(_handle.DangerousGetHandle(), data.Handle, 0, 0, 0, out var length, out var result), "XGBoosterPredict");
        var values = new float[length];
        Marshal.Copy(result, values, 0, values.Length);
        return values;
    }

    /// <summary>The model as XGBoost's JSON (the bytes to store; <see cref="Load"/> reads them back).</summary>
    public byte[] Save()
    {
        XgbNative.Check(XgbNative.XGBoosterSaveModelToBuffer(_handle.DangerousGetHandle(), "{\"format\": \"json\"}", out var length, out var buffer), "XGBoosterSaveModelToBuffer");
        var bytes = new byte[length];
        Marshal.Copy(buffer, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();

    private static unsafe XgbBooster Create(IntPtr matrix)
    {
        IntPtr raw;
        if (matrix == IntPtr.Zero)
        {
            XgbNative.Check(XgbNative.XGBoosterCreate(null, 0, out raw), "XGBoosterCreate");
        }
        else
        {
            var m = matrix;
            XgbNative.Check(XgbNative.XGBoosterCreate(&m, 1, out raw), "XGBoosterCreate");
        }

        return new XgbBooster(XgbBoosterHandle.From(raw));
    }
}
