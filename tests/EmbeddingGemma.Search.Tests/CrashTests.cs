using System.Diagnostics;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Testing;
using Microsoft.Data.Sqlite;

namespace EmbeddingGemma.Search.Tests;

public sealed class CrashTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("eg-crash");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    /// <summary>The CLI built beside this test (same configuration).</summary>
    private static string CliDll()
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Config>/net10.0/
        var dll = Path.Combine(TestPaths.RepoRoot, "src", "EmbeddingGemma.Cli", "bin", config, "net10.0", "EmbeddingGemma.Cli.dll");
        Assert.True(File.Exists(dll), $"CLI not built: {dll}");
        return dll;
    }

    private static long CommittedDocuments(string db)
    {
        if (!File.Exists(db))
        {
            return 0;
        }
        try
        {
            using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM documents";
            return (long)cmd.ExecuteScalar()!;
        }
        catch (SqliteException)
        {
            return 0; // schema not created yet
        }
    }

    [Fact]
    public async Task Sigkill_mid_ingest_loses_no_committed_document_and_the_index_reopens_and_resumes()
    {
        var rng = new Random(1);
        var input = Path.Combine(_dir, "docs.jsonl");
        // Enough documents that the kill lands mid-ingest on a fast, quiet machine too (3,000 were all committed
        // between two polls once); ids stay 5 digits (d00000..d29999).
        const int total = 30_000;
        using (var w = new StreamWriter(input))
        {
            for (int i = 0; i < total; i++)
            {
                var words = string.Join(' ', Enumerable.Range(0, 60).Select(_ => "w" + rng.Next(5000)));
                await w.WriteLineAsync($"{{\"id\":\"d{i:D5}\",\"title\":\"t{i}\",\"text\":\"{words}\",\"metadata\":{{\"n\":\"{i}\"}}}}");
            }
        }
        var db = Path.Combine(_dir, "index.db");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { CliDll(), "index", "--db", db, "--model", "hash:128", "--input", input, "--batch-size", "8" })
        {
            psi.ArgumentList.Add(a);
        }
        using var child = Process.Start(psi)!;
        _ = child.StandardOutput.ReadToEndAsync();
        _ = child.StandardError.ReadToEndAsync();
        long seen = 0;
        var sw = Stopwatch.StartNew();
        while (seen < 40 && !child.HasExited && sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20);
            seen = CommittedDocuments(db);
        }
        Assert.False(child.HasExited, $"the child finished (exit {(child.HasExited ? child.ExitCode : 0)}) before it could be killed; {seen} documents seen");
        child.Kill(); // SIGKILL on Unix: no cleanup, no finally blocks
        await child.WaitForExitAsync();
        Assert.True(seen >= 40 && seen < total, $"{seen} documents were committed before the kill");

        using (var index = SemanticIndex.Open(db))
        {
            var info = index.GetInfo();
            Assert.True(info.Documents >= seen, $"{info.Documents} documents after reopening, {seen} were committed before the kill");
            Assert.True(info.Documents < total);
            Assert.Equal(0, info.Documents % 8); // whole batches only: a transaction is all or nothing
            Assert.Equal(info.Chunks, index.VectorCount);
            // Committed documents are the first ones of the input, each complete.
            var ids = index.GetDocumentIds();
            Assert.Equal(Enumerable.Range(0, (int)info.Documents).Select(i => $"d{i:D5}"), ids);
            Assert.Equal($"t{info.Documents - 1}", index.GetDocument(ids[^1])!.Title);
        }
        // Resume: the same command finishes the job and skips what was committed.
        var resume = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in psi.ArgumentList)
        {
            resume.ArgumentList.Add(a);
        }
        using var again = Process.Start(resume)!;
        var err = again.StandardError.ReadToEndAsync();
        await again.StandardOutput.ReadToEndAsync();
        await again.WaitForExitAsync();
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("unchanged", await err, StringComparison.Ordinal);
        using (var index = SemanticIndex.Open(db))
        {
            Assert.Equal(total, index.GetInfo().Documents);
        }
    }
}
