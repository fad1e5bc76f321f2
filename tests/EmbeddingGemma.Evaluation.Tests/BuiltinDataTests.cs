using EmbeddingGemma.Evaluation.Tasks;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Evaluation.Tests;

/// <summary>The shipped data/eval copies load with the row counts their SOURCE.txt states.</summary>
public class BuiltinDataTests
{
    private static string Root => Path.Combine(TestPaths.RepoRoot, "data", "eval");

    [Fact]
    public void Default_data_root_is_found_from_the_test_folder()
    {
        Assert.True(File.Exists(Path.Combine(BuiltinTasks.FindDefaultDataRoot()!, "SUBSAMPLES.txt")));
    }

    [Fact]
    public void Every_builtin_task_resolves_and_task_types_select_subsets()
    {
        var all = BuiltinTasks.Resolve("all", Root);
        Assert.Equal(BuiltinTasks.Names.Count, all.Count);
        Assert.All(BuiltinTasks.Resolve("sts", Root), t => Assert.Equal(EvalTaskType.STS, t.Type));
        Assert.Equal(12, BuiltinTasks.Resolve("sts", Root).Count);
        Assert.Equal(2, BuiltinTasks.Resolve("scifact,xquad-en,scifact", Root).Count);
    }

    [Fact]
    public void Shipped_sets_have_the_documented_sizes()
    {
        var scifact = Data.BeirLoader.Load(Path.Combine(Root, "scifact_beir"));
        Assert.Equal(1000, scifact.Corpus.Count);
        Assert.Equal(300, scifact.Queries.Count);
        var xquad = Data.BeirLoader.Load(Path.Combine(Root, "xquad", "beir", "zh"), "test", null, Path.Combine(Root, "xquad", "beir", "en"));
        Assert.Equal(240, xquad.Corpus.Count);
        Assert.Equal(300, xquad.Queries.Count);
        // banking77 test.csv has quoted fields with line breaks: 3085 lines, 3080 rows.
        Assert.Equal(3080, Data.TableLoader.LoadLabeled(Path.Combine(Root, "banking77", "test.csv")).Count);
        Assert.Equal(77, Data.TableLoader.LoadLabeled(Path.Combine(Root, "banking77", "train.csv")).Select(x => x.Label).Distinct().Count());
        Assert.Equal(1379, Data.TableLoader.LoadSts(Path.Combine(Root, "stsb_multi_mt", "stsb-ja-test.csv")).Pairs.Count);
        Assert.Equal(1379, BuiltinTasks.StsBenchmark(Path.Combine(Root, "stsbenchmark_en", "stsbenchmark.tsv"), "test", "x").Pairs.Count);
        Assert.Equal(164, BuiltinTasks.CodeRetrieval(Path.Combine(Root, "humaneval", "HumanEval.jsonl"), "h", "task_id", "prompt", "canonical_solution").Queries.Count);
        Assert.Equal(974, BuiltinTasks.CodeRetrieval(Path.Combine(Root, "mbpp", "mbpp.jsonl"), "m", "task_id", "text", "code").Corpus.Count);
        Assert.Equal(204, Data.TableLoader.LoadLabeled(Path.Combine(Root, "sib200", "zho_Hant", "test.tsv")).Count);
        Assert.Equal(13, BuiltinTasks.Columns(Path.Combine(Root, "csl_zh", "cls_ctg", "test.tsv"), 1, 2, header: false).Select(x => x.Label).Distinct().Count());
        var rerank = BuiltinTasks.XquadReranking(Data.BeirLoader.Load(Path.Combine(Root, "xquad", "beir", "en")), "r");
        Assert.All(rerank.Samples, s => Assert.Single(s.Positives));
        Assert.True(rerank.Samples.Average(s => s.Negatives.Count) >= 3);
    }

    [Fact]
    public void Full_shared_sets_load_when_present()
    {
        // ../shared/data exists on the development machines and in CI; a plain clone has only data/eval.
        if (TestPaths.SharedData is not { } shared)
        {
            return;
        }
        var scifact = Data.BeirLoader.Load(Path.Combine(shared, "scifact_beir"));
        Assert.Equal(5183, scifact.Corpus.Count);
        Assert.Equal(300, scifact.Queries.Count);
        Assert.Equal(339, scifact.Qrels.Sum(q => q.Value.Count));
    }
}
