using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Ann;
using EmbeddingGemma.Search.Vectors;

namespace EmbeddingGemma.Search.Tests;

public class ScanTests
{
    /// <summary>SIMD and scalar dots of unit vectors of 64 dims differ by far less than this.</summary>
    private const float ScoreTolerance = 1e-5f;

    private static void AssertSameRanking(ScoredRow[] expected, ScoredRow[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i].Score - actual[i].Score) <= ScoreTolerance, $"rank {i}: {expected[i]} vs {actual[i]}");
            // Rows may differ only where two scores tie within rounding.
            if (expected[i].Row != actual[i].Row)
            {
                Assert.True(Math.Abs(expected[i].Score - actual[i].Score) <= ScoreTolerance);
            }
        }
        Assert.True(expected.Select(e => e.Row).Intersect(actual.Select(a => a.Row)).Count() >= expected.Length - 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(100)]
    public void Exact_scan_equals_brute_force(int k)
    {
        // 20,000 rows: above the per-thread block size, so the multi-threaded merge path runs.
        var m = SyntheticVectors.Generate(20_000, 64, 50, seed: 7);
        var queries = SyntheticVectors.Queries(20, 64, 50, 7, 8);
        for (int q = 0; q < queries.Count; q++)
        {
            var exact = ExactScanner.Search(m, queries.Row(q), k, maxThreads: 4);
            var brute = ExactScanner.BruteForce(m, queries.Row(q), k);
            AssertSameRanking(brute, exact);
        }
    }

    [Fact]
    public void Exact_scan_honours_filter_and_threshold()
    {
        var m = SyntheticVectors.Generate(9_000, 32, 10, seed: 9);
        var q = m.Row(5).ToArray();
        var allowed = Enumerable.Range(0, m.Count).Select(i => i % 3 == 0).ToArray();
        var hits = ExactScanner.Search(m, q, 50, allowed, minScore: 0.5f, maxThreads: 2);
        Assert.NotEmpty(hits);
        Assert.All(hits, h => Assert.True(h.Row % 3 == 0 && h.Score >= 0.5f));
        var brute = ExactScanner.BruteForce(m, q, 100000, 0.5f).Where(r => r.Row % 3 == 0).Take(50).ToArray();
        AssertSameRanking(brute, hits);
    }

    [Fact]
    public void Exact_scan_rejects_bad_k_and_dimension()
    {
        var m = SyntheticVectors.Generate(10, 8, 2, seed: 1);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => ExactScanner.Search(m, new float[8], 0)).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => ExactScanner.Search(m, new float[7], 3)).Kind);
        Assert.Equal(10, ExactScanner.Search(m, m.Row(0), 50).Length);
    }

    private static double MeanRecall(VectorMatrix m, VectorMatrix queries, Func<ReadOnlyMemory<float>, ScoredRow[]> search)
    {
        double sum = 0;
        for (int q = 0; q < queries.Count; q++)
        {
            var query = queries.Row(q).ToArray();
            sum += SyntheticVectors.Recall(ExactScanner.Search(m, query, 10), search(query));
        }
        return sum / queries.Count;
    }

    [Fact]
    public void Funnel_recall_at_10_is_high_on_matryoshka_like_vectors()
    {
        var m = SyntheticVectors.Generate(20_000, 256, 100, seed: 11);
        var queries = SyntheticVectors.Queries(50, 256, 100, 11, 12);
        var funnel = MatryoshkaFunnel.Build(m, 64);
        double recall = MeanRecall(m, queries, q => funnel.Search(q.Span, 10, candidates: 200));
        Assert.True(recall >= 0.95, $"funnel recall@10 = {recall:F3}");
        // The funnel's scores are full-size scores.
        var top = funnel.Search(queries.Row(0), 10, 200);
        Assert.All(top, t => Assert.Equal(VectorOps.Dot(m.Row(t.Row), queries.Row(0)), t.Score, 5));
    }

    [Fact]
    public void Hnsw_recall_at_10_against_exact_and_persistence()
    {
        var m = SyntheticVectors.Generate(5_000, 64, 50, seed: 13);
        var queries = SyntheticVectors.Queries(50, 64, 50, 13, 14);
        var hnsw = HnswIndex.Build(m, new HnswOptions { M = 16, EfConstruction = 64, EfSearch = 100 });
        double recall = MeanRecall(m, queries, q => hnsw.Search(q.Span, 10));
        Assert.True(recall >= 0.95, $"HNSW recall@10 = {recall:F3}");

        using var ms = new MemoryStream();
        hnsw.Save(ms);
        ms.Position = 0;
        var loaded = HnswIndex.Load(ms, m);
        for (int q = 0; q < 10; q++)
        {
            Assert.Equal(hnsw.Search(queries.Row(q), 10).Select(r => r.Row), loaded.Search(queries.Row(q), 10).Select(r => r.Row));
        }
    }

    [Fact]
    public void Hnsw_with_a_filter_returns_only_allowed_rows()
    {
        var m = SyntheticVectors.Generate(3_000, 32, 20, seed: 15);
        var hnsw = HnswIndex.Build(m, new HnswOptions { EfConstruction = 64 });
        var allowed = Enumerable.Range(0, m.Count).Select(i => i % 2 == 1).ToArray();
        var hits = hnsw.Search(m.Row(0), 10, 100, allowed);
        Assert.Equal(10, hits.Length);
        Assert.All(hits, h => Assert.True(h.Row % 2 == 1));
    }

    [Fact]
    public void Hnsw_incremental_rows_are_found()
    {
        var m = SyntheticVectors.Generate(2_000, 32, 20, seed: 17);
        var hnsw = HnswIndex.Build(m);
        var extra = Data.RandomUnit(new Random(5), 32);
        int row = m.Add(extra);
        hnsw.AddNewRows();
        Assert.Equal(row, hnsw.Search(extra, 1)[0].Row);
    }

    [Fact]
    public void Int8_search_with_rescoring_matches_exact_and_returns_full_precision_scores()
    {
        var m = SyntheticVectors.Generate(10_000, 128, 50, seed: 19);
        var int8 = new Int8Matrix(128);
        for (int i = 0; i < m.Count; i++)
        {
            int8.Add(m.Row(i));
        }
        var queries = SyntheticVectors.Queries(30, 128, 50, 19, 20);
        double recall = MeanRecall(m, queries, q => int8.Search(q.Span, 10, 100, row => m.Row(row).ToArray()));
        Assert.True(recall >= 0.99, $"int8 + rescoring recall@10 = {recall:F3}");
        var hit = int8.Search(queries.Row(0), 1, 100, row => m.Row(row).ToArray())[0];
        Assert.Equal(VectorOps.Dot(m.Row(hit.Row), queries.Row(0)), hit.Score);
        Assert.Equal(10_000L * (128 + 4), int8.ByteSize);
    }
}
