namespace MetalSniper.Core.Tests;

/// <summary>Finds ../shared/data (the real recorded data) from the test's working directory.</summary>
internal static class SharedData
{
    public static string Directory { get; } = Find();

    public static string Path(string relative) => System.IO.Path.Combine(Directory, relative);

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "data");
            if (System.IO.Directory.Exists(System.IO.Path.Combine(candidate, "metals")))
            {
                return candidate;
            }

            dir = dir.Parent;
        }

        throw new DirectoryNotFoundException("../shared/data (the recorded market data) was not found above " + AppContext.BaseDirectory);
    }
}
