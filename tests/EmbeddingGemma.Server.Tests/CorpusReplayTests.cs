using EmbeddingGemma.Fuzz;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// Replays every committed fuzz input — the seed corpora (fuzz/corpus/&lt;target&gt;/) and the regression files of
/// crashes the fuzzer found (fuzz/crashes/&lt;target&gt;/) — through the same target code as afl-fuzz
/// (fuzz/EmbeddingGemma.Fuzz/FuzzTargets.cs), in-process, and asserts the contract: only EmbeddingGemmaException (and
/// the server's ApiException for request bodies) may escape. So CI replays the corpora on every run.
/// </summary>
public sealed class CorpusReplayTests
{
    private static string FuzzDir => Path.Combine(TestPaths.RepoRoot, "fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "corpus", "crashes" })
        {
            foreach (var target in FuzzTargets.Names)
            {
                var dir = Path.Combine(FuzzDir, kind, target);
                if (!Directory.Exists(dir))
                {
                    continue;
                }
                foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(FuzzDir, file));
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Only_expected_exceptions_escape(string target, string file)
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(FuzzDir, file));
        var task = Task.Run(() => FuzzTargets.Check(target, bytes));
        var done = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(done == task, $"{target} on fuzz/{file}: no answer within 30 s (a hang).");
        var e = await task;
        Assert.True(e is null, $"{target} on fuzz/{file}: {e?.GetType().Name} escaped: {e?.Message}\n{e?.StackTrace}");
    }

    [Fact]
    public void Every_target_has_a_seed_corpus()
    {
        foreach (var target in FuzzTargets.Names)
        {
            var dir = Path.Combine(FuzzDir, "corpus", target);
            Assert.True(Directory.Exists(dir) && Directory.GetFiles(dir).Length >= 3, $"fuzz/corpus/{target} needs at least 3 seed files.");
        }
    }
}
