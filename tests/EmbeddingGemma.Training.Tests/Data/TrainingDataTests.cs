using System.IO.Compression;
using System.Text;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Data;

namespace EmbeddingGemma.Training.Tests.Data;

/// <summary>Parsing of every training format (the article's JSON, JSONL, CSV/TSV with sentence-transformers columns, gzip) and its errors.</summary>
public sealed class TrainingDataTests
{
    internal const string ArticleJson = """
        [
          {"type": "similarity", "text1": "机器学习算法", "text2": "AI学习模型", "similarity": 0.85},
          {"type": "similarity", "text1": "苹果水果", "text2": "iPhone手机", "similarity": 0.15},
          {"type": "triplet", "anchor": "深度学习框架", "positive": "TensorFlow和PyTorch", "negative": "Java编程语言"}
        ]
        """;

    private static string Write(string name, string text)
    {
        var path = Path.Combine(TestPaths.NewTempDir("eg-train-data"), name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ArticleJsonGivesOneDatasetPerType()
    {
        var data = TrainingDataLoader.Load(Write("finetuning_data.json", ArticleJson));
        Assert.Equal(2, data.Count);
        Assert.Equal(TrainingDataKind.ScoredPairs, data[0].Kind);
        Assert.Equal(["机器学习算法", "AI学习模型"], data[0].Rows[0].Texts);
        Assert.Equal(0.85, data[0].Rows[0].Label);
        Assert.Equal(0.15, data[0].Rows[1].Label);
        Assert.Equal(TrainingDataKind.Triplets, data[1].Kind);
        Assert.Equal(["深度学习框架", "TensorFlow和PyTorch", "Java编程语言"], data[1].Rows[0].Texts);
        Assert.EndsWith(":4", data[1].Rows[0].Origin, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLinesInferKindsFromFieldsAndPlainPairs()
    {
        var data = TrainingDataLoader.Load(Write("d.jsonl", """
            {"anchor": "q1", "positive": "d1"}

            {"sentence1": "a", "sentence2": "b", "score": "0.5"}
            {"type": "pair", "query": "q2", "document": "d2"}
            {"anchor": "q3", "positive": "d3", "negative": "n3"}
            """));
        Assert.Equal([TrainingDataKind.ScoredPairs, TrainingDataKind.Pairs, TrainingDataKind.Triplets], data.Select(d => d.Kind));
        Assert.Equal(0.5, data[0].Rows[0].Label);
        Assert.Equal(["q2", "d2"], data[1].Rows[1].Texts);
    }

    [Fact]
    public void CsvTsvAndGzipWithSentenceTransformersColumns()
    {
        var csv = TrainingDataLoader.Load(Write("sts.csv", "sentence1,sentence2,score\n\"a, quoted\",b,0.25\nc,d,1\n"));
        Assert.Equal(TrainingDataKind.ScoredPairs, csv.Single().Kind);
        Assert.Equal(["a, quoted", "b"], csv[0].Rows[0].Texts);
        Assert.Equal(1.0, csv[0].Rows[1].Label);
        var tsv = TrainingDataLoader.Load(Write("t.tsv", "anchor\tpositive\tnegative\nq\tp\tn\n"));
        Assert.Equal(TrainingDataKind.Triplets, tsv.Single().Kind);
        var labelled = TrainingDataLoader.Load(Write("l.csv", "text1,text2,label\nx,y,0.75\n"));
        Assert.Equal(0.75, labelled.Single().Rows[0].Label);
        var gz = Path.Combine(TestPaths.NewTempDir("eg-train-data"), "pairs.jsonl.gz");
        using (var f = File.Create(gz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest))
        {
            z.Write(Encoding.UTF8.GetBytes("{\"anchor\":\"q\",\"positive\":\"p\"}\n"));
        }
        Assert.Equal(["q", "p"], TrainingDataLoader.Load(gz).Single().Rows[0].Texts);
    }

    [Theory]
    [InlineData("bad.json", "[\n{\"type\":\"similarity\",\"text1\":\"a\",\"text2\":\"b\"}\n]", ":2:", "similarity")]
    [InlineData("bad.json", "[\n{\"type\":\"triplet\",\"anchor\":\"a\",\n\"positive\":\"b\",\"negative\":3}\n]", ":2:", "\"negative\" must be a string")]
    [InlineData("bad.json", "[\n{\"type\":\"sim\",\"text1\":\"a\"}]", ":2:", "\"type\" is \"sim\"")]
    [InlineData("bad.jsonl", "{\"anchor\":\"a\",\"positive\":\"b\"}\n{\"anchor\":\"a\"}\n", ":2:", "\"positive\"")]
    [InlineData("bad.jsonl", "{\"anchor\":\"a\",\"positive\":\"\"}\n", ":1:", "\"positive\" is empty")]
    [InlineData("bad.csv", "sentence1,sentence2,score\na,b,high\n", ":2:", "score")]
    [InlineData("bad.csv", "sentence1,sentence2\na,b\n", ":1:", "score")]
    [InlineData("bad.tsv", "foo\tbar\nx\ty\n", ":1:", "anchor,positive")]
    [InlineData("bad.json", "[{\"type\":\"pair\",\"anchor\":\"a\",\"positive\":\"b\"},\n{oops}]", ":2:", "not valid JSON")]
    public void ErrorsNameFileLineAndField(string name, string text, string line, string field)
    {
        var path = Write(name, text);
        var e = Assert.Throws<EmbeddingGemmaException>(() => TrainingDataLoader.Load(path));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains(path + line, e.Message, StringComparison.Ordinal);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileAndUnknownFormatAreRefused()
    {
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<EmbeddingGemmaException>(() => TrainingDataLoader.Load("/nonexistent/x.json")).Kind);
        var e = Assert.Throws<EmbeddingGemmaException>(() => TrainingDataLoader.Load(Write("x.parquet", "x")));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains(".parquet", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PromptsResolveTaskNamesModelNamesNoneAndLiterals()
    {
        var resolver = new PromptResolver();
        Assert.Equal("task: sentence similarity | query: ", ColumnPrompts.Resolve(ColumnPrompts.Defaults["text1"], resolver));
        Assert.Equal("task: search result | query: ", ColumnPrompts.Resolve(ColumnPrompts.Defaults["anchor"], resolver));
        Assert.Equal("title: none | text: ", ColumnPrompts.Resolve(ColumnPrompts.Defaults["positive"], resolver));
        Assert.Equal("title: none | text: ", ColumnPrompts.Resolve(ColumnPrompts.Defaults["negative"], resolver));
        Assert.Equal("task: clustering | query: ", ColumnPrompts.Resolve("Clustering", resolver));
        Assert.Null(ColumnPrompts.Resolve("none", resolver));
        Assert.Equal("my prompt: ", ColumnPrompts.Resolve("my prompt: ", resolver));
        var parsed = ColumnPrompts.Parse(["anchor=qa_query", "negative=none"]);
        Assert.Equal("qa_query", parsed["anchor"]);
        Assert.Equal("none", parsed["negative"]);
        Assert.Equal("retrieval_document", parsed["positive"]);
        Assert.Equal("x", ColumnPrompts.Parse(["*=x"])["text2"]);
        Assert.Contains("unknown column 'query'", Assert.Throws<EmbeddingGemmaException>(() => ColumnPrompts.Parse(["query=x"])).Message, StringComparison.Ordinal);
    }
}

/// <summary>The epoch plan: every row once, no duplicate texts in MNRL batches, proportional interleaving, reproducible from (seed, epoch).</summary>
public sealed class BatchPlannerTests
{
    private static TrainingDataset Pairs(int n, int distinctAnchors, string prefix = "") => new($"{prefix}pairs", TrainingDataKind.Pairs,
        Enumerable.Range(0, n).Select(i => new TrainingRow([$"{prefix}q{i % distinctAnchors}", $"{prefix}d{i}"], null, $"row {i}")).ToList());

    [Fact]
    public void NoDuplicateBatchesHoldEachRowOnceAndNoRepeatedText()
    {
        // 60 rows sharing 7 anchors: batches of 5 can never repeat an anchor
        var data = new[] { Pairs(60, 7) };
        var plan = BatchPlanner.Plan(data, 5, seed: 3, epoch: 0, [true]);
        Assert.Equal(Enumerable.Range(0, 60), plan.SelectMany(b => b.Rows).Order());
        foreach (var b in plan)
        {
            var texts = b.Rows.SelectMany(r => data[0].Rows[r].Texts).ToList();
            Assert.Equal(texts.Count, texts.Distinct().Count());
            Assert.InRange(b.Rows.Length, 1, 5);
        }
        // without the no-duplicate rule the same shuffle does put a repeated anchor into some batch
        var plain = BatchPlanner.Plan(data, 5, seed: 3, epoch: 0, [false]);
        Assert.Contains(plain, b => b.Rows.Select(r => data[0].Rows[r].Texts[0]).Distinct().Count() < b.Rows.Length);
        Assert.Equal(12, plain.Count);
    }

    [Fact]
    public void OrderIsReproducibleFromSeedAndEpoch()
    {
        var data = new[] { Pairs(40, 40) };
        string Key(IReadOnlyList<PlannedBatch> p) => string.Join("|", p.Select(b => string.Join(",", b.Rows)));
        Assert.Equal(Key(BatchPlanner.Plan(data, 4, 1, 2, [true])), Key(BatchPlanner.Plan(data, 4, 1, 2, [true])));
        Assert.NotEqual(Key(BatchPlanner.Plan(data, 4, 1, 2, [true])), Key(BatchPlanner.Plan(data, 4, 1, 3, [true])));
        Assert.NotEqual(Key(BatchPlanner.Plan(data, 4, 1, 2, [true])), Key(BatchPlanner.Plan(data, 4, 2, 2, [true])));
    }

    [Fact]
    public void TypesAreSampledInProportionAndNeverMixed()
    {
        // 120 rows vs 40 rows at batch 4: 30 and 10 batches. Over 300 epochs, the share of the first type among the
        // first 8 batches of an epoch must be its proportion 0.75 (binomial-like sd per epoch ~0.15, over 300 epochs
        // ~0.01: tolerance 0.04); a round-robin or a sequential order would give 0.5 or 1.0.
        var data = new[] { Pairs(120, 120, "a"), Pairs(40, 40, "b") };
        double share = 0;
        const int Epochs = 300;
        for (var e = 0; e < Epochs; e++)
        {
            var plan = BatchPlanner.Plan(data, 4, 11, e, [false, false]);
            Assert.Equal(30, plan.Count(b => b.Dataset == 0));
            Assert.Equal(10, plan.Count(b => b.Dataset == 1));
            Assert.All(plan, b => Assert.All(b.Rows, r => Assert.StartsWith(b.Dataset == 0 ? "a" : "b", data[b.Dataset].Rows[r].Texts[0], StringComparison.Ordinal)));
            share += plan.Take(8).Count(b => b.Dataset == 0) / 8.0 / Epochs;
        }
        Assert.InRange(share, 0.71, 0.79);
    }
}
