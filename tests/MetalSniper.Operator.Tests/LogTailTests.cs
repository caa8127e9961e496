using System.Text;
using MetalSniper.Operator.Window;
using Microsoft.Extensions.Configuration;

namespace MetalSniper.Operator.Tests;

/// <summary>The operator window's log tail on real files in a temp directory, written the way Serilog's rolling file sink names them.</summary>
public sealed class LogTailTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-logtail-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static LogTail For(params (string Key, string Value)[] settings) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    private LogTail FileSink() => For(("Serilog:WriteTo:0:Name", "File"), ("Serilog:WriteTo:0:Args:path", Path.Combine(_dir.FullName, "metalsniper-.log")));

    [Fact]
    public async Task ReadsTheLastWholeLinesOfTheNewestRolledFile_WhileTheWriterHoldsItOpen()
    {
        var older = Path.Combine(_dir.FullName, "metalsniper-20261206.log");
        await File.WriteAllTextAsync(older, "yesterday 1\nyesterday 2\n");
        File.SetLastWriteTimeUtc(older, DateTime.UtcNow.AddDays(-1));
        var current = Path.Combine(_dir.FullName, "metalsniper-20261207_001.log");
        // Serilog's file sink keeps the file open for writing and shares it for reading only.
        await using (var writer = new FileStream(current, FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            var text = string.Concat(Enumerable.Range(1, 10).Select(i => $"line {i}\n")) + "line 11 still being writ";
            await writer.WriteAsync(Encoding.UTF8.GetBytes(text));
            await writer.FlushAsync();

            var tail = await FileSink().ReadAsync(3, CancellationToken.None);

            tail.File.ShouldBe(current);
            tail.Lines.ShouldBe(["line 8", "line 9", "line 10"], "whole lines only: the one being written is left out");
            tail.Note.ShouldBeNull();
        }
    }

    [Fact]
    public async Task ALargeFile_IsReadFromItsLast256KiB_AndTheLineCutThereIsLeftOut()
    {
        var path = Path.Combine(_dir.FullName, "metalsniper-20261207.log");
        var lines = Enumerable.Range(0, 20_000).Select(i => $"{i:D6} " + new string('x', 40)).ToList();
        await File.WriteAllLinesAsync(path, lines);
        new FileInfo(path).Length.ShouldBeGreaterThan(LogTail.MaxBytes * 2);

        var tail = await FileSink().ReadAsync(1000, CancellationToken.None);

        tail.Lines.Count.ShouldBe(1000);
        tail.Lines[^1].ShouldBe(lines[^1]);
        tail.Lines.ShouldAllBe(l => lines.Contains(l));
        tail.Lines.ShouldBe(lines.Skip(lines.Count - 1000));
    }

    [Fact]
    public async Task TheFileSinkIsFoundInsideAnAsyncWrapper_AndWithoutOneTheTailSaysSo()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "app-20261207.txt"), "one\ntwo\n");
        var wrapped = For(("Serilog:WriteTo:0:Name", "Console"), ("Serilog:WriteTo:1:Name", "Async"),
            ("Serilog:WriteTo:1:Args:configure:0:Name", "File"), ("Serilog:WriteTo:1:Args:configure:0:Args:path", Path.Combine(_dir.FullName, "app-.txt")));
        (await wrapped.ReadAsync(10, CancellationToken.None)).Lines.ShouldBe(["one", "two"]);

        var none = await For(("Serilog:WriteTo:0:Name", "Console")).ReadAsync(10, CancellationToken.None);
        (none.File, none.Lines.Count).ShouldBe((null, 0));
        none.Note.ShouldNotBeNull().ShouldContain("no Serilog File sink");

        var notYet = await For(("Serilog:WriteTo:0:Name", "File"), ("Serilog:WriteTo:0:Args:path", Path.Combine(_dir.FullName, "later", "x-.log"))).ReadAsync(10, CancellationToken.None);
        notYet.Note.ShouldNotBeNull().ShouldContain("no log file yet");
    }
}
