namespace EmbeddingGemma.Evaluation.Metrics;

/// <summary>A scored document in a query's result list.</summary>
public readonly record struct ScoredDocument(string DocumentId, double Score);

/// <summary>
/// Retrieval metrics with trec_eval / BEIR semantics, named as MTEB names them (<c>ndcg_at_10</c>, <c>map_at_10</c>,
/// <c>recall_at_10</c>, <c>precision_at_10</c>, <c>mrr_at_10</c>).
/// <list type="bullet">
/// <item>Ranking: score descending; ties broken by document id in descending ordinal order (trec_eval's rule), so
/// results do not depend on the order the retriever returned them.</item>
/// <item>Relevant = grade &gt;= 1. nDCG uses the grade itself as gain (trec_eval <c>ndcg_cut</c>: gain = grade,
/// discount log2(rank + 1)); the ideal ranking sorts all judged grades &gt; 0.</item>
/// <item>MAP@k (trec_eval <c>map_cut</c>): sum of precision at each relevant rank &lt;= k, divided by the number of
/// relevant documents (not min(k, R)). Recall@k: relevant in top k / R. Precision@k: relevant in top k / k.
/// MRR@k: 1 / rank of the first relevant document within k, else 0.</item>
/// <item>Queries without any relevant judgement are not evaluable and are skipped (counted in
/// <see cref="RetrievalEvaluation.SkippedQueries"/>); judged queries missing from the results score 0.</item>
/// </list>
/// </summary>
public static class RetrievalMetrics
{
    /// <summary>The cut-offs reported, as MTEB reports them.</summary>
    public static readonly int[] DefaultCutoffs = [1, 3, 5, 10, 20, 100, 1000];

    /// <summary>Sorts a result list into trec_eval order.</summary>
    public static ScoredDocument[] Rank(IEnumerable<ScoredDocument> results)
    {
        var a = results.ToArray();
        Array.Sort(a, static (x, y) =>
        {
            int c = y.Score.CompareTo(x.Score);
            return c != 0 ? c : string.CompareOrdinal(y.DocumentId, x.DocumentId);
        });
        return a;
    }

    /// <summary>Per-query metrics for one ranked list (already in trec_eval order) against its judgements.</summary>
    public static Dictionary<string, double> ScoreQuery(IReadOnlyList<ScoredDocument> ranked, IReadOnlyDictionary<string, int> judged, IReadOnlyList<int> cutoffs)
    {
        var m = new Dictionary<string, double>(StringComparer.Ordinal);
        int relevantTotal = judged.Values.Count(g => g >= 1);
        var idealGains = judged.Values.Where(g => g > 0).OrderDescending().ToArray();
        foreach (int k in cutoffs)
        {
            double dcg = 0, idcg = 0, apSum = 0, rr = 0;
            int hits = 0;
            int n = Math.Min(k, ranked.Count);
            for (int i = 0; i < n; i++)
            {
                int grade = judged.TryGetValue(ranked[i].DocumentId, out var g) ? g : 0;
                if (grade > 0)
                {
                    dcg += grade / Math.Log2(i + 2);
                }
                if (grade >= 1)
                {
                    hits++;
                    apSum += (double)hits / (i + 1);
                    if (rr == 0)
                    {
                        rr = 1.0 / (i + 1);
                    }
                }
            }
            for (int i = 0; i < Math.Min(k, idealGains.Length); i++)
            {
                idcg += idealGains[i] / Math.Log2(i + 2);
            }
            m[$"ndcg_at_{k}"] = idcg > 0 ? dcg / idcg : 0;
            m[$"map_at_{k}"] = relevantTotal > 0 ? apSum / relevantTotal : 0;
            m[$"recall_at_{k}"] = relevantTotal > 0 ? (double)hits / relevantTotal : 0;
            m[$"precision_at_{k}"] = (double)hits / k;
            m[$"mrr_at_{k}"] = rr;
        }
        return m;
    }

    /// <summary>Mean of the per-query metrics over every query with at least one relevant judgement.</summary>
    public static RetrievalEvaluation Evaluate(
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> qrels,
        IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> results,
        IReadOnlyList<int>? cutoffs = null)
    {
        cutoffs ??= DefaultCutoffs;
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        int evaluated = 0, skipped = 0;
        foreach (var (qid, judged) in qrels)
        {
            if (!judged.Values.Any(g => g >= 1))
            {
                skipped++;
                continue;
            }
            var ranked = results.TryGetValue(qid, out var r) ? Rank(r) : [];
            foreach (var (name, v) in ScoreQuery(ranked, judged, cutoffs))
            {
                sums[name] = sums.GetValueOrDefault(name) + v;
            }
            evaluated++;
        }
        var means = sums.ToDictionary(kv => kv.Key, kv => evaluated > 0 ? kv.Value / evaluated : 0, StringComparer.Ordinal);
        return new RetrievalEvaluation(means, evaluated, skipped);
    }
}

/// <summary>Mean metrics, the number of queries they average over, and the number skipped for lack of relevant judgements.</summary>
public sealed record RetrievalEvaluation(IReadOnlyDictionary<string, double> Metrics, int EvaluatedQueries, int SkippedQueries);
