namespace MetalSniper.Testing;

/// <summary>
/// The repository root (the directory holding MetalSniper.sln) and the recorded data in ../shared/data beside it, found
/// from the test's output directory. Missing data fails the test that asks for it, with the path it looked for.
/// </summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(() => FindUp(d => File.Exists(Path.Combine(d, "MetalSniper.sln")), "MetalSniper.sln"));

    private static readonly Lazy<string> Data = new(() =>
    {
        var data = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));
        return Directory.Exists(Path.Combine(data, "metals"))
            ? data
            : throw new DirectoryNotFoundException($"the recorded market data is not at {data} (../shared/data beside the repository)");
    });

    /// <summary>The directory holding MetalSniper.sln.</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>../shared/data beside the repository (the real recorded market data).</summary>
    public static string SharedData => Data.Value;

    /// <summary>A file under ../shared/data, e.g. <c>metals/xauusd_m15_utc.csv.gz</c>.</summary>
    public static string SharedDataFile(string relative) => Path.Combine(SharedData, relative);

    private static string FindUp(Func<string, bool> match, string what)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (match(d.FullName))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException($"{what} not found above {AppContext.BaseDirectory}");
    }
}
