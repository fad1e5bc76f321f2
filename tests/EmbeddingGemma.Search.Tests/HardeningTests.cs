using System.Collections.Concurrent;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Testing;
using Microsoft.Data.Sqlite;

namespace EmbeddingGemma.Search.Tests;

/// <summary>Issue 12 ("Hardening"): the index and search findings, one test per finding.</summary>
public sealed class HardeningTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("eg-search-hardening");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
    }

    private static readonly SearchDocument[] Docs =
    [
        new("a", "The quick brown fox jumps over the lazy dog.") { Metadata = new Dictionary<string, string> { ["lang"] = "en", ["path\\"] = "x" } },
        new("b", "Vectors from one embedding space only.") { Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("c", "Der schnelle braune Fuchs springt.") { Metadata = new Dictionary<string, string> { ["lang"] = "de" } },
    ];

    /// <summary>A random tiny model written to <c>{parent}/model</c>: two seeds give two models with the same folder name.</summary>
    private string ModelFolder(string parent, int seed)
    {
        var folder = Path.Combine(_dir, parent, "model");
        if (!Directory.Exists(folder))
        {
            RandomModel.Create("tiny", seed).WriteHuggingFaceFolder(folder);
        }
        return folder;
    }

    private static void SetRawMeta(string db, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    // ------------------------------------------------------------------ 1. the index knows its model by folder name only

    [Fact]
    public void Model_fingerprint_depends_on_weights_not_on_folder_name()
    {
        var a = ModelFolder("a", 1);
        var b = ModelFolder("b", 2);
        var aCopy = Path.Combine(_dir, "copy", "renamed");
        Directory.CreateDirectory(aCopy);
        foreach (var f in Directory.GetFiles(a, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(aCopy, Path.GetRelativePath(a, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        using var ma = EmbeddingGemmaModel.Load(a);
        using var mb = EmbeddingGemmaModel.Load(b);
        using var mc = EmbeddingGemmaModel.Load(aCopy);
        Assert.Matches("^[0-9a-f]{64}$", ma.Fingerprint);
        Assert.NotEqual(ma.Fingerprint, mb.Fingerprint);
        Assert.Equal(ma.Fingerprint, mc.Fingerprint);
        Assert.Equal(ma.Fingerprint, ma.Fingerprint); // cached, stable
        Assert.Equal("hashing-bow-v1:256", new HashingEmbeddingGenerator(256).Fingerprint);
    }

    [Fact]
    public async Task Index_knows_its_model_by_folder_name_only()
    {
        var db = Path.Combine(_dir, "fp.db");
        using var ra = EmbeddingGeneratorFactory.Create(ModelFolder("a", 1));
        using var rb = EmbeddingGeneratorFactory.Create(ModelFolder("b", 2));
        Assert.NotNull(ra.Fingerprint);
        using (var index = SemanticIndex.Open(db))
        {
            var r = await new SemanticSearchEngine(index, ra.Generator, new SemanticSearchEngineOptions { ModelSpec = ra.ModelSpec }).IndexAsync(Docs);
            Assert.Equal(3, r.Stored);
            Assert.Equal(ra.Fingerprint, index.ModelFingerprint);
        }
        using (var index = SemanticIndex.Open(db))
        {
            Assert.Equal(ra.Fingerprint, index.GetInfo().ModelFingerprint);
            // Same folder name ("model"), other weights: refused on index (nothing "unchanged") and on search.
            var other = new SemanticSearchEngine(index, rb.Generator, new SemanticSearchEngineOptions { ModelSpec = rb.ModelSpec });
            Assert.Equal(index.ModelId, other.ModelId);
            var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => other.IndexAsync(Docs));
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Contains(ra.Fingerprint!, e.Message, StringComparison.Ordinal);
            Assert.Contains(rb.Fingerprint!, e.Message, StringComparison.Ordinal);
            Assert.Contains(ra.ModelSpec, e.Message, StringComparison.Ordinal);
            Assert.Contains(rb.ModelSpec, e.Message, StringComparison.Ordinal);
            e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => other.SearchAsync("fox"));
            Assert.Contains(rb.Fingerprint!, e.Message, StringComparison.Ordinal);
            // The library-level guard too (a caller that skips the engine).
            Assert.Throws<EmbeddingGemmaException>(() => index.VerifyModel(other.ModelId, rb.Fingerprint, rb.ModelSpec));
            Assert.Equal(3, index.GetInfo().Documents);
            // The same model again: everything unchanged, search works.
            var same = new SemanticSearchEngine(index, ra.Generator, new SemanticSearchEngineOptions { ModelSpec = ra.ModelSpec });
            Assert.Equal(3, (await same.IndexAsync(Docs)).Unchanged);
            Assert.NotEmpty(await same.SearchAsync("fox"));
        }
    }

    [Fact]
    public async Task Index_without_fingerprint_adopts_it_on_write_and_warns_on_search()
    {
        var db = Path.Combine(_dir, "old.db");
        var gen = new HashingEmbeddingGenerator(64);
        using (var index = SemanticIndex.Open(db))
        {
            await new SemanticSearchEngine(index, gen).IndexAsync(Docs);
        }
        SetRawMeta(db, "DELETE FROM meta WHERE key = 'model_fingerprint'"); // as written by an older version
        var warnings = new ConcurrentQueue<string>();
        using (var index = SemanticIndex.Open(db, new SemanticIndexOptions { ReadOnly = true, Warning = warnings.Enqueue }))
        {
            Assert.Null(index.ModelFingerprint);
            var engine = new SemanticSearchEngine(index, gen, new SemanticSearchEngineOptions { Warning = warnings.Enqueue });
            Assert.NotEmpty(await engine.SearchAsync("fox"));
            Assert.Contains(warnings, w => w.Contains("no model fingerprint", StringComparison.Ordinal));
        }
        warnings.Clear();
        using (var index = SemanticIndex.Open(db, new SemanticIndexOptions { Warning = warnings.Enqueue }))
        {
            var engine = new SemanticSearchEngine(index, gen);
            var r = await engine.IndexAsync([new SearchDocument("d", "A new document.")]);
            Assert.Equal(1, r.Stored);
            Assert.Equal(gen.Fingerprint, index.ModelFingerprint);
            Assert.Contains(warnings, w => w.Contains(gen.Fingerprint, StringComparison.Ordinal));
        }
        using (var index = SemanticIndex.Open(db, new SemanticIndexOptions { ReadOnly = true }))
        {
            Assert.Equal(gen.Fingerprint, index.ModelFingerprint);
            // hash:64 vs hash:64 of another "name" would pass; another dimension space is refused by fingerprint.
            var e = Assert.Throws<EmbeddingGemmaException>(() => index.VerifyModel("hash:64", "hashing-bow-v1:128", "hash:128"));
            Assert.Contains("hashing-bow-v1:64", e.Message, StringComparison.Ordinal);
        }
    }

    // ------------------------------------------------------------------ 2. search filters reach SQLite unguarded

    [Fact]
    public async Task Search_filters_reach_SQLite_unguarded()
    {
        var db = Path.Combine(_dir, "filter.db");
        var gen = new HashingEmbeddingGenerator(64);
        using (var index = SemanticIndex.Open(db))
        {
            await new SemanticSearchEngine(index, gen).IndexAsync(Docs);
        }
        // Malformed metadata written by another tool; metadata with a non-string value.
        SetRawMeta(db, "UPDATE documents SET metadata = '{\"lang\": \"de\", broken' WHERE id = 'c'");
        SetRawMeta(db, "UPDATE documents SET metadata = '{\"lang\": \"en\", \"year\": 1999}' WHERE id = 'b'");
        var warnings = new ConcurrentQueue<string>();
        using var ro = SemanticIndex.Open(db, new SemanticIndexOptions { ReadOnly = true, Warning = warnings.Enqueue });
        var engine = new SemanticSearchEngine(ro, gen);
        async Task<IReadOnlyList<SearchHit>> Search(Dictionary<string, string>? filter) =>
            await engine.SearchAsync("fox dog vectors Fuchs", new SearchOptions { TopK = 10, Filter = filter });

        // A key ending in a backslash, quotes, dots and JSON-path characters are matched literally.
        Assert.Equal(["a"], (await Search(new() { ["path\\"] = "x" })).Select(h => h.DocumentId));
        Assert.Empty(await Search(new() { ["path\\\""] = "x" }));
        Assert.Empty(await Search(new() { ["$.lang"] = "en" }));
        Assert.Empty(await Search(new() { ["lang\"] = 1 OR 1=1 --"] = "en" }));
        Assert.Equal(["a", "b"], (await Search(new() { ["lang"] = "en" })).Select(h => h.DocumentId).Order());
        // Malformed stored metadata: no match for any filter, shown without metadata (with a warning), no exception.
        Assert.Empty(await Search(new() { ["lang"] = "de" }));
        var all = await Search(null);
        Assert.Equal(3, all.Count);
        Assert.Null(all.Single(h => h.DocumentId == "c").Metadata);
        Assert.Equal("1999", all.Single(h => h.DocumentId == "b").Metadata!["year"]);
        Assert.Contains(warnings, w => w.Contains("'c'", StringComparison.Ordinal) && w.Contains("malformed metadata", StringComparison.Ordinal));
        Assert.Null(ro.GetDocument("c")!.Metadata);

        // Too many keys: a clear error naming the limit (no SQLite variable overflow).
        var huge = Enumerable.Range(0, 10_000).ToDictionary(i => $"k{i}", i => "v");
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => Search(huge));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("10000 keys", e.Message, StringComparison.Ordinal);
        Assert.Contains(SemanticIndex.MaxFilterKeys.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Empty(await Search(Enumerable.Range(0, SemanticIndex.MaxFilterKeys).ToDictionary(i => $"k{i}", i => "v")));
        foreach (var bad in new Dictionary<string, string>[] { new() { [""] = "x" }, new() { [new string('k', 300)] = "x" }, new() { ["a\u0000b"] = "x" }, new() { ["\ud800"] = "x" }, new() { ["k"] = new string('v', 5000) } })
        {
            var ex = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => Search(bad));
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
        }
    }

    // ------------------------------------------------------------------ 4. concurrent first-time index runs

    [Fact]
    public async Task Concurrent_first_time_index_runs_race_on_schema_creation()
    {
        for (int round = 0; round < 4; round++)
        {
            var db = Path.Combine(_dir, $"race{round}.db");
            const int Writers = 6;
            using var start = new Barrier(Writers);
            var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                start.SignalAndWait();
                using var index = SemanticIndex.Open(db);
                var engine = new SemanticSearchEngine(index, new HashingEmbeddingGenerator(64));
                await engine.IndexAsync([new SearchDocument($"w{w}", $"Document of writer {w}.")]);
            })).ToArray();
            await Task.WhenAll(tasks);
            using var check = SemanticIndex.Open(db, new SemanticIndexOptions { ReadOnly = true });
            Assert.Equal(Writers, check.GetInfo().Documents);
            Assert.Equal("hashing-bow-v1:64", check.ModelFingerprint);
        }
    }

    [Fact]
    public async Task Concurrent_writers_with_different_models_cannot_both_write()
    {
        var db = Path.Combine(_dir, "two-models.db");
        using var a = SemanticIndex.Open(db);
        using var b = SemanticIndex.Open(db); // opened before either wrote: both see an empty index
        await new SemanticSearchEngine(a, new HashingEmbeddingGenerator(64)).IndexAsync([Docs[0]]);
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() =>
            new SemanticSearchEngine(b, new HashingEmbeddingGenerator(64), new SemanticSearchEngineOptions { ModelId = "hash:64", ModelFingerprint = "other" }).IndexAsync([Docs[1]]));
        Assert.Contains("hashing-bow-v1:64", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, a.GetInfo().Documents);
    }

    // ------------------------------------------------------------------ 6. a read-only open creates or writes nothing

    [Fact]
    public void Search_creates_an_index_file_at_a_mistyped_path()
    {
        var missing = Path.Combine(_dir, "typo.db");
        var e = Assert.Throws<EmbeddingGemmaException>(() => SemanticIndex.Open(missing, new SemanticIndexOptions { ReadOnly = true }));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(missing));

        var empty = Path.Combine(_dir, "empty.db");
        File.WriteAllBytes(empty, []);
        e = Assert.Throws<EmbeddingGemmaException>(() => SemanticIndex.Open(empty, new SemanticIndexOptions { ReadOnly = true }));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(empty).Length);
        Assert.False(File.Exists(empty + "-wal"));
    }

    // ------------------------------------------------------------------ the same findings through the built CLI

    private static (int Code, string Stdout, string Stderr) Cli(params string[] args) => ModelEndToEndTests.RunCli(args);

    private string WriteDocs()
    {
        var input = Path.Combine(_dir, "docs.jsonl");
        File.WriteAllLines(input, Docs.Select(d => System.Text.Json.JsonSerializer.Serialize(new { id = d.Id, text = d.Text, metadata = d.Metadata })));
        return input;
    }

    [Fact]
    public void Cli_opening_an_untrusted_index_runs_what_it_names()
    {
        var a = ModelFolder("a", 1);
        var db = Path.Combine(_dir, "cli-trust.db");
        var (code, _, err) = Cli("index", "--db", db, "--model", a, "--input", WriteDocs());
        Assert.True(code == 0, err);
        // No --model: refused, naming the stored spec and how to use it; nothing is loaded.
        (code, _, err) = Cli("search", "--db", db, "--query", "fox");
        Assert.Equal(2, code);
        Assert.Contains(a, err, StringComparison.Ordinal);
        Assert.Contains($"--model {a}", err, StringComparison.Ordinal);
        Assert.Contains("--trust-index-model", err, StringComparison.Ordinal);
        (code, var stdout, err) = Cli("search", "--db", db, "--query", "fox", "--trust-index-model", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(3, System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("results").GetArrayLength());
        (code, _, err) = Cli("search", "--db", db, "--query", "fox", "--model", a);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void Cli_index_knows_its_model_by_folder_name_only()
    {
        var a = ModelFolder("a", 1);
        var b = ModelFolder("b", 2);
        var db = Path.Combine(_dir, "cli-fp.db");
        var input = WriteDocs();
        var (code, _, err) = Cli("index", "--db", db, "--model", a, "--input", input);
        Assert.True(code == 0, err);
        string fa, fb;
        using (var ma = EmbeddingGemmaModel.Load(a))
        using (var mb = EmbeddingGemmaModel.Load(b))
        {
            fa = ma.Fingerprint;
            fb = mb.Fingerprint;
        }
        foreach (var args in new[] { new[] { "index", "--db", db, "--model", b, "--input", input }, ["search", "--db", db, "--model", b, "--query", "fox"] })
        {
            (code, _, err) = Cli(args);
            Assert.Equal(2, code);
            Assert.StartsWith("error: Model mismatch", err, StringComparison.Ordinal);
            Assert.Contains(fa, err, StringComparison.Ordinal);
            Assert.Contains(fb, err, StringComparison.Ordinal);
            Assert.Contains(a, err, StringComparison.Ordinal);
            Assert.Contains(b, err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Cli_search_creates_an_index_file_at_a_mistyped_path()
    {
        var missing = Path.Combine(_dir, "mistyped.db");
        var (code, _, err) = Cli("search", "--db", missing, "--model", "hash", "--query", "fox");
        Assert.Equal(3, code);
        Assert.Contains(missing, err, StringComparison.Ordinal);
        Assert.False(File.Exists(missing));
        var empty = Path.Combine(_dir, "zero.db");
        File.WriteAllBytes(empty, []);
        (code, _, err) = Cli("search", "--db", empty, "--model", "hash", "--query", "fox");
        Assert.Equal(3, code);
        Assert.Contains(empty, err, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(empty).Length);
    }

    [Fact]
    public void Cli_search_filters_reach_SQLite_unguarded()
    {
        var db = Path.Combine(_dir, "cli-filter.db");
        var (code, _, err) = Cli("index", "--db", db, "--model", "hash:64", "--input", WriteDocs());
        Assert.True(code == 0, err);
        SetRawMeta(db, "UPDATE documents SET metadata = 'not json' WHERE id = 'c'");
        (code, var stdout, err) = Cli("search", "--db", db, "--query", "fox", "--filter", "path\\=x", "--json");
        Assert.True(code == 0, err);
        Assert.Equal("a", System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0].GetProperty("id").GetString());
        (code, _, err) = Cli("search", "--db", db, "--query", "Fuchs", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("warning:", err, StringComparison.Ordinal);
        var many = Enumerable.Range(0, 65).SelectMany(i => new[] { "--filter", $"k{i}=v" });
        (code, _, err) = Cli(["search", "--db", db, "--query", "fox", .. many]);
        Assert.Equal(2, code);
        Assert.Contains("limit is 64", err, StringComparison.Ordinal);
    }
}
