using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Tasks;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Evaluation.Tests;

/// <summary>Bad input gives an EmbeddingGemmaException whose message names the file and the line.</summary>
public class LoaderTests
{
    private static string Beir(string corpus, string queries, string qrels)
    {
        var dir = TestPaths.NewTempDir("eg-beir");
        File.WriteAllText(Path.Combine(dir, "corpus.jsonl"), corpus);
        File.WriteAllText(Path.Combine(dir, "queries.jsonl"), queries);
        Directory.CreateDirectory(Path.Combine(dir, "qrels"));
        File.WriteAllText(Path.Combine(dir, "qrels", "test.tsv"), qrels);
        return dir;
    }

    private const string Corpus = "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n";
    private const string Queries = "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q2\", \"text\": \"second\"}\n";

    [Fact]
    public void Valid_beir_folder_loads_and_keeps_only_judged_queries()
    {
        var ds = BeirLoader.Load(Beir(Corpus, Queries, "query-id\tcorpus-id\tscore\nq1\td2\t1\n"));
        Assert.Equal(2, ds.Corpus.Count);
        Assert.Equal("q1", Assert.Single(ds.Queries).Id);
        Assert.Equal(1, ds.Qrels["q1"]["d2"]);
        Assert.Equal("T one", RetrievalTask.DocumentText(ds.Corpus[0]));
    }

    [Fact]
    public void Gzipped_files_are_read()
    {
        var dir = Beir(Corpus, Queries, "query-id\tcorpus-id\tscore\nq1\td2\t1\n");
        var plain = Path.Combine(dir, "corpus.jsonl");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(plain + ".gz"), System.IO.Compression.CompressionLevel.Fastest))
        {
            gz.Write(File.ReadAllBytes(plain));
        }
        File.Delete(plain);
        Assert.Equal(2, BeirLoader.Load(dir).Corpus.Count);
    }

    [Fact]
    public void Malformed_json_row_names_file_and_line()
    {
        var dir = Beir(Corpus + "{\"_id\": \"d3\", \"text\": \n", Queries, "q1\td1\t1\n");
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(dir));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains(Path.Combine(dir, "corpus.jsonl") + ":3:", e.Message);
    }

    [Fact]
    public void Missing_field_names_file_line_and_field()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus, "{\"_id\": \"q1\"}\n", "q1\td1\t1\n")));
        Assert.Contains("queries.jsonl:1:", e.Message);
        Assert.Contains("\"text\"", e.Message);
    }

    [Fact]
    public void Qrels_naming_a_missing_document_name_file_and_line()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus, Queries, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td9\t1\n")));
        Assert.Contains(Path.Combine("qrels", "test.tsv") + ":3:", e.Message);
        Assert.Contains("\"d9\"", e.Message);
    }

    [Fact]
    public void Qrels_naming_a_missing_query_and_bad_grades_are_errors()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus, Queries, "q7\td1\t1\n")));
        Assert.Contains("test.tsv:1:", e.Message);
        Assert.Contains("\"q7\"", e.Message);
        var g = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus, Queries, "q1\td1\thigh\n")));
        Assert.Contains("test.tsv:1:", g.Message);
    }

    [Fact]
    public void Empty_split_and_duplicate_ids_are_errors()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus, Queries, "query-id\tcorpus-id\tscore\n")));
        Assert.Contains("empty split", e.Message);
        var d = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(Beir(Corpus + "{\"_id\": \"d1\", \"text\": \"again\"}\n", Queries, "q1\td1\t1\n")));
        Assert.Contains("corpus.jsonl:3:", d.Message);
        Assert.Contains("first on line 1", d.Message);
    }

    [Fact]
    public void Missing_split_file_is_not_found()
    {
        var dir = Beir(Corpus, Queries, "q1\td1\t1\n");
        var e = Assert.Throws<EmbeddingGemmaException>(() => BeirLoader.Load(dir, "dev"));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("dev.tsv", e.Message);
    }

    [Fact]
    public void Csv_quoted_fields_may_span_lines_and_errors_give_the_row_start_line()
    {
        var dir = TestPaths.NewTempDir();
        var ok = Path.Combine(dir, "ok.csv");
        File.WriteAllText(ok, "text,label\n\"two\nlines, with comma\",a\n\"say \"\"hi\"\"\",b\n");
        var items = TableLoader.LoadLabeled(ok);
        Assert.Equal(["two\nlines, with comma", "say \"hi\""], items.Select(i => i.Text));
        Assert.Equal(["a", "b"], items.Select(i => i.Label));

        var bad = Path.Combine(dir, "bad.csv");
        File.WriteAllText(bad, "text,label\nfine,a\n\"never closed,b\nmore\n");
        var e = Assert.Throws<EmbeddingGemmaException>(() => TableLoader.LoadLabeled(bad));
        Assert.Contains("bad.csv:3:", e.Message);
    }

    [Fact]
    public void Sts_file_with_a_bad_score_or_a_short_row_names_the_line()
    {
        var dir = TestPaths.NewTempDir();
        var p = Path.Combine(dir, "sts.tsv");
        File.WriteAllText(p, "sentence1\tsentence2\tscore\na\tb\t1.5\nc\td\t2\ne\tf\tfive\n");
        var e = Assert.Throws<EmbeddingGemmaException>(() => TableLoader.LoadSts(p));
        Assert.Contains("sts.tsv:4:", e.Message);
        Assert.Contains("score", e.Message);
        File.WriteAllText(p, "a\tb\t1\nc\td\n");
        Assert.Contains("sts.tsv:2:", Assert.Throws<EmbeddingGemmaException>(() => TableLoader.LoadSts(p)).Message);
        File.WriteAllText(p, "sentence1\tsentence2\tscore\n");
        Assert.Contains("empty split", Assert.Throws<EmbeddingGemmaException>(() => TableLoader.LoadSts(p)).Message);
    }

    [Fact]
    public void Jsonl_pairs_load_by_key_and_reject_bad_labels()
    {
        var dir = TestPaths.NewTempDir();
        var p = Path.Combine(dir, "pairs.jsonl");
        File.WriteAllText(p, "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\n{\"sentence1\": \"c\", \"sentence2\": \"d\", \"label\": 0}\n");
        Assert.Equal([true, false], TableLoader.LoadPairs(p).Pairs.Select(x => x.Label));
        File.AppendAllText(p, "{\"sentence1\": \"e\", \"sentence2\": \"f\", \"label\": 2}\n");
        Assert.Contains("pairs.jsonl:3:", Assert.Throws<EmbeddingGemmaException>(() => TableLoader.LoadPairs(p)).Message);
    }

    [Fact]
    public void Unknown_task_names_are_clear_errors()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => BuiltinTasks.Resolve("no-such-task", "."));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("no-such-task", e.Message);
    }
}
