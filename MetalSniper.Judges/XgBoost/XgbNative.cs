using System.Reflection;
using System.Runtime.InteropServices;

namespace MetalSniper.Judges.XgBoost;

/// <summary>
/// The XGBoost C API (xgboost/c_api.h of XGBoost 1.7.4, as Debian's <c>libxgboost0</c> ships it): the handful of entry
/// points the judges need — matrices from dense float rows, a booster with string parameters, one boosting round at a
/// time, prediction, and the JSON model buffer. Every function returns 0 on success and −1 on failure, with the message in
/// <c>XGBGetLastError</c>. The library is resolved as <c>libxgboost.so.0</c>, <c>libxgboost.so</c> (Linux) or
/// <c>xgboost.dll</c> (Windows).
/// </summary>
internal static partial class XgbNative
{
    private const string Library = "xgboost";

    /// <summary>Registers the resolver for the library's platform names (once, before the first call into the library).</summary>
    static XgbNative() => NativeLibrary.SetDllImportResolver(typeof(XgbNative).Assembly, Resolve);

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library)
        {
            return IntPtr.Zero;
        }

        string[] candidates = OperatingSystem.IsWindows() ? ["xgboost.dll", "xgboost"]
            : OperatingSystem.IsMacOS() ? ["libxgboost.dylib"]
            : ["libxgboost.so.0", "libxgboost.so", "/usr/lib/x86_64-linux-gnu/libxgboost.so.0", "/usr/lib/x86_64-linux-gnu/libxgboost.so.1.6.0", "/usr/lib/aarch64-linux-gnu/libxgboost.so.0"];
        foreach (var c in candidates)
        {
            if (NativeLibrary.TryLoad(c, assembly, searchPath, out var handle))
            {
                return handle;
            }
        }

        throw new DllNotFoundException($"the XGBoost library was not found (tried {string.Join(", ", candidates)}): install Debian's libxgboost0 (./test.sh does), or put the official xgboost.dll beside the executable on Windows");
    }

    [LibraryImport(Library)]
    internal static partial void XGBoostVersion(out int major, out int minor, out int patch);

    [LibraryImport(Library)]
    internal static partial IntPtr XGBGetLastError();

    [LibraryImport(Library)]
    internal static unsafe partial int XGDMatrixCreateFromMat(float* data, ulong nrow, ulong ncol, float missing, out IntPtr handle);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int XGDMatrixSetFloatInfo(IntPtr handle, string field, float* array, ulong len);

    [LibraryImport(Library)]
    internal static partial int XGDMatrixFree(IntPtr handle);

    [LibraryImport(Library)]
    internal static unsafe partial int XGBoosterCreate(IntPtr* dmats, ulong len, out IntPtr booster);

    [LibraryImport(Library)]
    internal static partial int XGBoosterFree(IntPtr handle);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int XGBoosterSetParam(IntPtr handle, string name, string value);

    [LibraryImport(Library)]
    internal static partial int XGBoosterUpdateOneIter(IntPtr handle, int iter, IntPtr dtrain);

    [LibraryImport(Library)]
    internal static partial int XGBoosterPredict(IntPtr handle, IntPtr dmat, int optionMask, uint ntreeLimit, int training, out ulong length, out IntPtr result);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int XGBoosterSaveModelToBuffer(IntPtr handle, string config, out ulong length, out IntPtr buffer);

    [LibraryImport(Library)]
    internal static unsafe partial int XGBoosterLoadModelFromBuffer(IntPtr handle, byte* buffer, ulong length);

    /// <summary>Throws <see cref="XgbException"/> with the library's last error when <paramref name="rc"/> is not 0.</summary>
    internal static void Check(int rc, string call)
    {
        if (rc != 0)
        {
            var message = Marshal.PtrToStringUTF8(XGBGetLastError()) ?? "(no message)";
            throw new XgbException($"XGBoost {call} failed: {message.Trim()}");
        }
    }
}

/// <summary>An XGBoost call failed; the message is the library's own (<c>XGBGetLastError</c>).</summary>
public sealed class XgbException(string message) : Exception(message);

/// <summary>A native matrix handle, freed with <c>XGDMatrixFree</c>.</summary>
internal sealed class XgbMatrixHandle : SafeHandle
{
    public XgbMatrixHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle() => XgbNative.XGDMatrixFree(handle) == 0;

    internal static XgbMatrixHandle From(IntPtr raw)
    {
        var h = new XgbMatrixHandle();
        h.SetHandle(raw);
        return h;
    }
}

/// <summary>A native booster handle, freed with <c>XGBoosterFree</c>.</summary>
internal sealed class XgbBoosterHandle : SafeHandle
{
    public XgbBoosterHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle() => XgbNative.XGBoosterFree(handle) == 0;

    internal static XgbBoosterHandle From(IntPtr raw)
    {
        var h = new XgbBoosterHandle();
        h.SetHandle(raw);
        return h;
    }
}
