using System.Diagnostics;
using System.Text.Json;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>The bench command on a tiny model, run as a real process (its per-type child processes included).</summary>
public sealed class BenchCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment.Remove("EMBEDDINGGEMMA_BENCH_DLL");
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, err);
    }

    [Fact]
    public void BenchOnTinyModelReportsThroughputLatencyAndRss()
    {
        var m = TinyModels.Default;
        var (code, stdout, err) = Run("bench", "--model", m.GgufPath, "--types", "f32", "--threads", "1", "--docs", "2", "--doc-tokens", "16",
            "--query-runs", "2", "--workloads", "docs,query,batch", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("machine").GetProperty("logical_cpus").GetInt32() > 0);
        Assert.Equal(2, root.GetProperty("workloads").GetProperty("docs").GetInt32());
        var results = root.GetProperty("results").EnumerateArray().ToArray();
        var r = Assert.Single(results);
        Assert.Equal("f32", r.GetProperty("type").GetString());
        Assert.True(r.GetProperty("docs_tokens_per_s").GetDouble() > 0);
        Assert.True(r.GetProperty("query_median_ms").GetDouble() > 0);
        Assert.True(r.GetProperty("peak_rss_mb").GetDouble() > 0);
        Assert.True(r.GetProperty("batch_s").GetDouble() > 0);   // 256 mixed short inputs in one call
        Assert.True(r.GetProperty("load_s").GetDouble() > 0);
        Assert.False(r.TryGetProperty("long_s", out _));   // the long workload was not asked for
        Assert.Contains("docs tok/s", err, StringComparison.Ordinal);   // the table goes to stderr
    }

    [Fact]
    public void UnknownTypeExitsTwoNamingTheValidTypes()
    {
        var (code, stdout, err) = Run("bench", "--model", TinyModels.Default.GgufPath, "--types", "f32,q5_k");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("q5_k", err, StringComparison.Ordinal);
        Assert.Contains("f32, bf16, f16, q8_0, q4_0", err, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownWorkloadExitsTwo()
    {
        var (code, _, err) = Run("bench", "--model", TinyModels.Default.GgufPath, "--workloads", "docs,bulk");
        Assert.Equal(2, code);
        Assert.Contains("bulk", err, StringComparison.Ordinal);
        Assert.Contains("docs, query, long, batch", err, StringComparison.Ordinal);
    }

    [Fact]
    public void PeerWithoutABenchmarkDllExitsTwoNamingTheOptionAndVariable()
    {
        // no source-tree lookup: --peer needs --bench-dll or EMBEDDINGGEMMA_BENCH_DLL, even when run inside a checkout
        var (code, stdout, err) = Run("bench", "--peer", "--types", "f32", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("--bench-dll", err, StringComparison.Ordinal);
        Assert.Contains("EMBEDDINGGEMMA_BENCH_DLL", err, StringComparison.Ordinal);

        var (code2, _, err2) = Run("bench", "--peer", "--types", "f32", "--bench-dll", "/nonexistent/EmbeddingGemma.Benchmarks.dll");
        Assert.Equal(2, code2);
        Assert.Contains("/nonexistent/EmbeddingGemma.Benchmarks.dll does not exist", err2, StringComparison.Ordinal);
    }
}
