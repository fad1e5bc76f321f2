using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Search.Vectors;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Search.Tests;

public sealed class IndexTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("eg-search");
    private string DbPath => Path.Combine(_dir, "index.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
    }

    private static readonly ChunkingOptions SmallChunks = new() { MaxTokens = 256, OverlapTokens = 32 };

    private static SemanticSearchEngine Engine(SemanticIndex index, Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>? gen = null) =>
        new(index, gen ?? new HashingEmbeddingGenerator(256), new SemanticSearchEngineOptions { Chunking = SmallChunks, BatchSize = 4 });

    private static List<SearchDocument> Sotu() => DocumentReader.Read(Data.SotuCorpus).ToList();

    [Fact]
    public async Task Real_corpus_index_persist_reopen_search_update_delete()
    {
        var docs = Sotu();
        Assert.Equal(12, docs.Count);
        int chunks;
        using (var index = SemanticIndex.Open(DbPath))
        {
            var engine = Engine(index);
            var result = await engine.IndexAsync(docs);
            Assert.Equal(12, result.Stored);
            chunks = index.VectorCount;
            Assert.True(chunks > 12, "long speeches are split into several chunks");
        }
        using (var index = SemanticIndex.Open(DbPath))
        {
            var info = index.GetInfo();
            Assert.Equal(12, info.Documents);
            Assert.Equal(chunks, info.Chunks);
            Assert.Equal(chunks, index.VectorCount);
            var engine = Engine(index);
            // A chunk's own text as query: its chunk is the best hit (bag-of-words embedder), offsets point at it.
            var doc = docs[3];
            var chunk = TextChunker.Split(doc.Text, SmallChunks)[2];
            var hits = await engine.SearchAsync(chunk.Text, new SearchOptions { TopK = 3 });
            Assert.Equal(doc.Id, hits[0].DocumentId);
            Assert.Equal(2, hits[0].ChunkIndex);
            Assert.Equal(chunk.Text, doc.Text[hits[0].Start..hits[0].End]);
            Assert.Equal(hits.Count, hits.Select(h => h.DocumentId).Distinct().Count());
            Assert.Equal("1793", hits[0].Metadata!["year"]);

            // Update: new text for one document replaces its chunks.
            var updated = docs[0] with { Text = "Zanzibar quokka telegraph. " + docs[0].Text[..500] };
            var r2 = await engine.IndexAsync([updated]);
            Assert.Equal(1, r2.Stored);
            var hit = (await engine.SearchAsync("Zanzibar quokka telegraph", new SearchOptions { TopK = 1 }))[0];
            Assert.Equal(docs[0].Id, hit.DocumentId);
            Assert.StartsWith("Zanzibar", hit.Text, StringComparison.Ordinal);

            Assert.True(engine.Delete(docs[1].Id));
            Assert.False(engine.Delete(docs[1].Id));
            var all = await engine.SearchAsync(docs[1].Text[..300], new SearchOptions { TopK = 20 });
            Assert.DoesNotContain(all, h => h.DocumentId == docs[1].Id);
        }
        using (var index = SemanticIndex.Open(DbPath))
        {
            Assert.Equal(11, index.GetInfo().Documents);
            Assert.Null(index.GetDocument(docs[1].Id));
            Assert.StartsWith("Zanzibar", index.GetDocument(docs[0].Id)!.Text, StringComparison.Ordinal);
            var hit = (await Engine(index).SearchAsync("Zanzibar quokka telegraph", new SearchOptions { TopK = 1 }))[0];
            Assert.Equal(docs[0].Id, hit.DocumentId);
        }
    }

    [Fact]
    public async Task Reindex_skips_unchanged_documents_and_the_cache_serves_re_added_ones()
    {
        var docs = Sotu().Take(4).ToList();
        using var index = SemanticIndex.Open(DbPath);
        var gen = new HashingEmbeddingGenerator(128);
        var engine = Engine(index, gen);
        var first = await engine.IndexAsync(docs);
        Assert.True(first.ChunksEmbedded > 0);
        int texts = gen.TextsEmbedded;

        var again = await engine.IndexAsync(docs);
        Assert.Equal(new IndexingResult(0, 4, 0, 0), again);
        Assert.Equal(texts, gen.TextsEmbedded);

        engine.Delete(docs[2].Id);
        var readd = await engine.IndexAsync([docs[2]]);
        Assert.Equal(1, readd.Stored);
        Assert.Equal(0, readd.ChunksEmbedded);
        Assert.True(readd.ChunksFromCache > 0);
        Assert.Equal(texts, gen.TextsEmbedded);

        // Another dimension is another content hash: everything is embedded again.
        var other = new SemanticSearchEngine(SemanticIndex.Open(Path.Combine(_dir, "b.db")), gen, new SemanticSearchEngineOptions { Chunking = SmallChunks, Dimensions = 64 });
        Assert.NotEqual(Convert.ToHexString(engine.ContentHash(docs[0])), Convert.ToHexString(other.ContentHash(docs[0])));
        other.Index.Dispose();
    }

    [Fact]
    public async Task Exact_mode_through_the_index_equals_brute_force_over_the_stored_vectors()
    {
        var rng = new Random(4);
        var docs = Enumerable.Range(0, 300).Select(i => new SearchDocument($"d{i}", $"document {i} " + string.Join(' ', Enumerable.Range(0, 20).Select(_ => "w" + rng.Next(200))))).ToList();
        using var index = SemanticIndex.Open(DbPath);
        var gen = new HashingEmbeddingGenerator(64);
        var engine = Engine(index, gen);
        await engine.IndexAsync(docs);
        var m = new VectorMatrix(64);
        foreach (var d in docs)
        {
            m.Add((await gen.GenerateAsync([d.Text]))[0].Vector.Span);
        }
        var q = (await gen.GenerateAsync(["w1 w2 w3 w50 document"]))[0].Vector.ToArray();
        var brute = ExactScanner.BruteForce(m, q, 10);
        var hits = index.Search(q, new SearchOptions { TopK = 10 });
        Assert.Equal(brute.Select(b => docs[b.Row].Id), hits.Select(h => h.DocumentId));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(brute[i].Score, hits[i].Score, 5);
        }
        // Funnel and ANN agree with exact on this small set for the top hit.
        Assert.Equal(hits[0].DocumentId, index.Search(q, new SearchOptions { TopK = 1, Mode = SearchMode.Funnel, FunnelDimension = 32 })[0].DocumentId);
        Assert.Equal(hits[0].DocumentId, index.Search(q, new SearchOptions { TopK = 1, Mode = SearchMode.Ann })[0].DocumentId);
        // Threshold drops low scores.
        Assert.All(index.Search(q, new SearchOptions { TopK = 100, Threshold = 0.3f }), h => Assert.True(h.Score >= 0.3f));
    }

    [Fact]
    public async Task Int8_storage_returns_full_precision_scores_like_float32()
    {
        var docs = Sotu();
        using (var index = SemanticIndex.Open(DbPath))
        {
            await Engine(index).IndexAsync(docs);
        }
        var query = "the Indian tribes on the frontier and the militia";
        IReadOnlyList<SearchHit> f32, i8;
        using (var index = SemanticIndex.Open(DbPath, new SemanticIndexOptions { ReadOnly = true }))
        {
            f32 = await Engine(index).SearchAsync(query, new SearchOptions { TopK = 5 });
        }
        using (var index = SemanticIndex.Open(DbPath, new SemanticIndexOptions { ReadOnly = true, Storage = VectorStorage.Int8 }))
        {
            i8 = await Engine(index).SearchAsync(query, new SearchOptions { TopK = 5 });
        }
        Assert.Equal(f32.Select(h => (h.DocumentId, h.ChunkIndex)), i8.Select(h => (h.DocumentId, h.ChunkIndex)));
        Assert.Equal(f32.Select(h => h.Score), i8.Select(h => h.Score));
    }

    [Fact]
    public async Task Hybrid_bm25_finds_exact_terms_that_random_vectors_cannot()
    {
        // Random vectors carry no meaning; a rare word planted in one document is found only by the keyword side.
        var docs = Sotu();
        docs[7] = docs[7] with { Text = docs[7].Text[..2000] + " The xylophonist Quetzalcoatl arrived. " + docs[7].Text[2000..] };
        using var index = SemanticIndex.Open(DbPath);
        var engine = Engine(index, new RandomTextEmbedder(128));
        await engine.IndexAsync(docs);
        var vectorOnly = await engine.SearchAsync("Quetzalcoatl xylophonist", new SearchOptions { TopK = 1000, OneHitPerDocument = false });
        var hybrid = await engine.SearchAsync("Quetzalcoatl xylophonist", new SearchOptions { TopK = 2, Mode = SearchMode.Hybrid, OneHitPerDocument = false });
        static bool Planted(SearchHit h) => h.Text.Contains("Quetzalcoatl", StringComparison.Ordinal);
        // RRF gives the keyword side's rank 1 the same 1/61 as the vector side's rank 1, so the planted chunk is in the top 2.
        var hit = Assert.Single(hybrid, Planted);
        Assert.Equal(docs[7].Id, hit.DocumentId);
        Assert.NotNull(hit.Bm25);
        // Random vectors alone rank it nowhere near the top (deterministic: the embedder hashes the text).
        int vectorRank = vectorOnly.ToList().FindIndex(h => Planted(h));
        Assert.True(vectorRank > 10, $"vector-only rank of the planted chunk: {vectorRank}");
    }

    [Fact]
    public async Task Metadata_filter_keeps_only_matching_documents()
    {
        using var index = SemanticIndex.Open(DbPath);
        var engine = Engine(index);
        await engine.IndexAsync(Sotu());
        var filter = new Dictionary<string, string> { ["name"] = "John Adams" };
        foreach (var mode in new[] { SearchMode.Exact, SearchMode.Funnel, SearchMode.Ann, SearchMode.Hybrid })
        {
            var hits = await engine.SearchAsync("the navy and commerce", new SearchOptions { TopK = 10, Filter = filter, Mode = mode });
            Assert.Equal(4, hits.Count);
            Assert.All(hits, h => Assert.Equal("John Adams", h.Metadata!["name"]));
        }
    }

    [Fact]
    public async Task Bad_input_gives_clear_errors_and_loses_nothing()
    {
        using (var index = SemanticIndex.Open(DbPath))
        {
            var engine = Engine(index);
            await engine.IndexAsync(Sotu().Take(3));
            Assert.Equal(ErrorKind.InvalidArgument, (await Assert.ThrowsAsync<EmbeddingGemmaException>(() => engine.SearchAsync("  "))).Kind);
            var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => engine.SearchAsync("navy", new SearchOptions { TopK = 0 }));
            Assert.Contains("top_k", e.Message, StringComparison.Ordinal);
            // Same model identity (name and fingerprint), other dimension: a dimension mismatch, refused before anything is stored.
            var wrongDim = new SemanticSearchEngine(index, new HashingEmbeddingGenerator(64),
                new SemanticSearchEngineOptions { ModelId = engine.ModelId, ModelFingerprint = engine.ModelFingerprint, Chunking = SmallChunks });
            var dm = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => wrongDim.IndexAsync([new SearchDocument("new", "some text")]));
            Assert.Contains("Dimension mismatch", dm.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<EmbeddingGemmaException>(() => wrongDim.SearchAsync("navy"));
            // Another model: refused.
            var other = new SemanticSearchEngine(index, new HashingEmbeddingGenerator(128));
            Assert.Contains("was built with model", (await Assert.ThrowsAsync<EmbeddingGemmaException>(() => other.SearchAsync("navy"))).Message, StringComparison.Ordinal);
            Assert.Throws<EmbeddingGemmaException>(() => index.Search(new float[10]));
            Assert.Equal(3, index.GetInfo().Documents);
        }
        using (var index = SemanticIndex.Open(DbPath))
        {
            Assert.Equal(3, index.GetInfo().Documents);
            Assert.Null(index.GetDocument("new"));
        }
    }

    [Fact]
    public void A_file_that_is_not_sqlite_is_refused_and_left_unchanged()
    {
        File.WriteAllText(DbPath, "id,text\n1,hello\n");
        var before = File.ReadAllBytes(DbPath);
        var e = Assert.Throws<EmbeddingGemmaException>(() => SemanticIndex.Open(DbPath));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("not a SQLite database", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(DbPath));
    }

    [Fact]
    public void A_foreign_sqlite_database_is_refused_and_left_unchanged()
    {
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE invoices(id INTEGER PRIMARY KEY, amount REAL); INSERT INTO invoices(amount) VALUES (12.5);";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(DbPath);
        var e = Assert.Throws<EmbeddingGemmaException>(() => SemanticIndex.Open(DbPath));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("another application", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(DbPath));
        Assert.False(File.Exists(DbPath + "-wal"));
    }

    [Fact]
    public async Task A_corrupted_index_is_refused_with_a_clear_error()
    {
        using (var index = SemanticIndex.Open(DbPath))
        {
            await Engine(index).IndexAsync(Sotu());
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        // Checkpointed on close: all data is in the main file. Overwrite pages in the middle with garbage.
        var bytes = File.ReadAllBytes(DbPath);
        Assert.True(bytes.Length > 64 * 1024);
        var rng = new Random(1);
        for (int i = 8192; i < bytes.Length - 4096; i += 4096)
        {
            for (int j = 0; j < 64; j++)
            {
                bytes[i + j] = (byte)rng.Next(256);
            }
        }
        File.WriteAllBytes(DbPath, bytes);
        var e = Assert.Throws<EmbeddingGemmaException>(() => SemanticIndex.Open(DbPath));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains(DbPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_reader_names_the_line_of_a_bad_record()
    {
        var f = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(f, ["{\"id\":\"a\",\"text\":\"ok\"}", "{\"id\":\"b\"}"]);
        var e = Assert.Throws<EmbeddingGemmaException>(() => DocumentReader.Read(f).ToList());
        Assert.Contains("bad.jsonl:2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunks_carry_offsets_into_the_text_and_overlap()
    {
        var text = File.ReadAllText(Data.SotuCorpus)[..20000];
        var opts = new ChunkingOptions { MaxTokens = 100, OverlapTokens = 20 };
        var chunks = TextChunker.Split(text, opts);
        Assert.True(chunks.Count > 5);
        var tokens = TextChunker.ApproximateTokens(text);
        for (int i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(text[chunks[i].Start..chunks[i].End], chunks[i].Text);
            Assert.Equal(i, chunks[i].Ordinal);
            int count = tokens.Count(t => t.Start.Value >= chunks[i].Start && t.End.Value <= chunks[i].End);
            Assert.True(count <= 100, $"chunk {i} has {count} tokens");
            Assert.False(chunks[i].Start > 0 && char.IsLetter(text[chunks[i].Start - 1]) && char.IsLetter(text[chunks[i].Start]), $"chunk {i} starts inside a word");
            if (i > 0)
            {
                Assert.True(chunks[i].Start < chunks[i - 1].End, "consecutive chunks overlap");
            }
        }
        Assert.Equal(0, chunks[0].Start);
        Assert.Equal(text.Length, chunks[^1].End);

        // A caller-supplied token counter (here: one token per character) is used instead of the approximation.
        var perChar = TextChunker.Split("abcdefghij", new ChunkingOptions { MaxTokens = 4, OverlapTokens = 1, TokenOffsets = s => Enumerable.Range(0, s.Length).Select(i => new Range(i, i + 1)).ToList() });
        Assert.Equal(["abcd", "defg", "ghij"], perChar.Select(c => c.Text));
    }
}

public class FtsTermTests
{
    [Fact]
    public void Cjk_text_is_split_into_character_terms_and_latin_into_words()
    {
        Assert.Equal(["什", "么", "是", "BERT", "model"], EmbeddingGemma.Search.Index.SemanticIndex.FtsTerms("什么是 BERT model?"));
        Assert.Equal(["a", "OR", "b"], EmbeddingGemma.Search.Index.SemanticIndex.FtsTerms("\"a\" OR b*")); // quoted later: operators are plain words
    }
}
