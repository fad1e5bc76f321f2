using EmbeddingGemma.Evaluation.Metrics;

namespace EmbeddingGemma.Evaluation.Tests;

/// <summary>Metrics against hand-worked cases (the arithmetic is written out in each test).</summary>
public class RetrievalMetricTests
{
    private const double Tol = 1e-12;

    private static Dictionary<string, IReadOnlyDictionary<string, int>> Qrels(params (string Q, string D, int G)[] rows) =>
        rows.GroupBy(r => r.Q).ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, int>)g.ToDictionary(r => r.D, r => r.G));

    private static Dictionary<string, IReadOnlyList<ScoredDocument>> Run(params (string Q, string D, double S)[] rows) =>
        rows.GroupBy(r => r.Q).ToDictionary(g => g.Key, g => (IReadOnlyList<ScoredDocument>)g.Select(r => new ScoredDocument(r.D, r.S)).ToList());

    [Fact]
    public void Binary_relevance_hand_worked()
    {
        // Ranking d1 (rel), d2, d3 (rel); R = 2.
        var ev = RetrievalMetrics.Evaluate(Qrels(("q", "d1", 1), ("q", "d3", 1)), Run(("q", "d1", 0.9), ("q", "d2", 0.8), ("q", "d3", 0.7)), [1, 3]);
        var m = ev.Metrics;
        // DCG@3 = 1/log2(2) + 1/log2(4) = 1.5; IDCG@3 = 1 + 1/log2(3).
        Assert.Equal(1.5 / (1 + 1 / Math.Log2(3)), m["ndcg_at_3"], Tol);
        Assert.Equal((1.0 + 2.0 / 3) / 2, m["map_at_3"], Tol);
        Assert.Equal(0.5, m["map_at_1"], Tol);          // precision 1 at rank 1, divided by R = 2
        Assert.Equal(0.5, m["recall_at_1"], Tol);
        Assert.Equal(1.0, m["recall_at_3"], Tol);
        Assert.Equal(2.0 / 3, m["precision_at_3"], Tol);
        Assert.Equal(1.0, m["mrr_at_3"], Tol);
        Assert.Equal(1.0, m["ndcg_at_1"], Tol);
    }

    [Fact]
    public void Graded_relevance_uses_the_grade_as_gain()
    {
        // Judged d1 = 2, d2 = 1; ranked d2, d1. DCG = 1/1 + 2/log2(3); IDCG = 2/1 + 1/log2(3).
        var m = RetrievalMetrics.Evaluate(Qrels(("q", "d1", 2), ("q", "d2", 1)), Run(("q", "d2", 2), ("q", "d1", 1)), [10]).Metrics;
        Assert.Equal((1 + 2 / Math.Log2(3)) / (2 + 1 / Math.Log2(3)), m["ndcg_at_10"], Tol);
        Assert.Equal(1.0, m["map_at_10"], Tol);   // both relevant docs at ranks 1 and 2
        Assert.Equal(0.1 * 2, m["precision_at_10"], Tol); // precision@k divides by k even when fewer are retrieved
    }

    [Fact]
    public void Ties_are_broken_by_document_id_descending_whatever_the_input_order()
    {
        // Equal scores: trec_eval puts "b" before "a". Only "a" is relevant, so it is at rank 2.
        var qrels = Qrels(("q", "a", 1));
        var m1 = RetrievalMetrics.Evaluate(qrels, Run(("q", "a", 0.5), ("q", "b", 0.5)), [1, 2]).Metrics;
        var m2 = RetrievalMetrics.Evaluate(qrels, Run(("q", "b", 0.5), ("q", "a", 0.5)), [1, 2]).Metrics;
        Assert.Equal(0.5, m1["mrr_at_2"], Tol);
        Assert.Equal(1 / Math.Log2(3), m1["ndcg_at_2"], Tol);
        Assert.Equal(m1["ndcg_at_2"], m2["ndcg_at_2"], Tol);
        Assert.Equal(0.0, m1["recall_at_1"], Tol);
    }

    [Fact]
    public void Missing_qrels_and_missing_results()
    {
        // q1: judged relevant, perfect. q2: judged, but absent from the results -> scores 0 and counts.
        // q3: only a grade-0 judgement -> not evaluable, skipped. q4: results but no qrels -> ignored.
        var qrels = Qrels(("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 0));
        var run = Run(("q1", "d1", 1), ("q3", "d3", 1), ("q4", "d4", 1));
        var ev = RetrievalMetrics.Evaluate(qrels, run, [10]);
        Assert.Equal(2, ev.EvaluatedQueries);
        Assert.Equal(1, ev.SkippedQueries);
        Assert.Equal(0.5, ev.Metrics["ndcg_at_10"], Tol);
        Assert.Equal(0.5, ev.Metrics["recall_at_10"], Tol);
    }

    [Fact]
    public void Map_divides_by_all_relevant_not_by_k()
    {
        // 3 relevant, only one retrieved at rank 1: map@1 = 1/3 (trec_eval map_cut), recall@1 = 1/3.
        var m = RetrievalMetrics.Evaluate(Qrels(("q", "a", 1), ("q", "b", 1), ("q", "c", 1)), Run(("q", "a", 1)), [1]).Metrics;
        Assert.Equal(1.0 / 3, m["map_at_1"], Tol);
        Assert.Equal(1.0 / 3, m["recall_at_1"], Tol);
        Assert.Equal(1.0, m["ndcg_at_1"], Tol);
    }
}

public class OtherMetricTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void Spearman_with_ties_uses_average_ranks()
    {
        // x ranks [1, 2.5, 2.5, 4]; y ranks [1, 2, 3, 4]; r = 4.5 / sqrt(4.5 * 5).
        Assert.Equal(4.5 / Math.Sqrt(4.5 * 5), Correlation.Spearman([1, 2, 2, 3], [10, 20, 30, 40]), Tol);
        Assert.Equal(1.0, Correlation.Spearman([1, 2, 3, 4], [1, 4, 9, 16]), Tol);     // monotone, not linear
        Assert.True(Correlation.Pearson([1, 2, 3, 4], [1, 4, 9, 16]) < 0.99);
        Assert.Equal(-1.0, Correlation.Pearson([1, 2, 3], [6, 4, 2]), Tol);
    }

    [Fact]
    public void Average_precision_matches_the_scikit_learn_documentation_example()
    {
        // sklearn docs: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333...
        Assert.Equal(0.5 * 1 + 0.5 * (2.0 / 3), ClassificationMetrics.AveragePrecision([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), Tol);
        // Tied scores enter together: one threshold, recall 1, precision 1/2.
        Assert.Equal(0.5, ClassificationMetrics.AveragePrecision([0.5, 0.5], [true, false]), Tol);
    }

    [Fact]
    public void Macro_f1_and_accuracy_hand_worked()
    {
        // class 0: tp 1, fp 0, fn 1 -> 2/3; class 1: tp 2, fp 1, fn 0 -> 4/5.
        Assert.Equal((2.0 / 3 + 0.8) / 2, ClassificationMetrics.MacroF1([0, 0, 1, 1], [0, 1, 1, 1]), Tol);
        Assert.Equal(0.75, ClassificationMetrics.Accuracy([0, 0, 1, 1], [0, 1, 1, 1]), Tol);
        // A predicted class absent from gold counts with F1 0: classes {0, 1, 2} -> (1 + 0 + 0)/3... gold [0,1], pred [0,2].
        Assert.Equal(1.0 / 3, ClassificationMetrics.MacroF1([0, 1], [0, 2]), Tol);
    }

    [Fact]
    public void Best_threshold_accuracy_and_f1()
    {
        // scores 0.9(+) 0.8(-) 0.7(+) 0.1(-): threshold 0.7 gives tp 2, fp 1 -> acc 3/4, F1 = 4/5.
        var (acc, f1) = ClassificationMetrics.BestThresholdAccuracyAndF1([0.9, 0.8, 0.7, 0.1], [true, false, true, false]);
        Assert.Equal(0.75, acc, Tol);
        Assert.Equal(0.8, f1, Tol);
    }

    [Fact]
    public void V_measure_hand_worked_and_scikit_learn_example()
    {
        // sklearn docs: v_measure_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.8 (homogeneity 1, completeness 2/3).
        var (h, c, v) = VMeasure.Compute([0, 0, 1, 1], [0, 0, 1, 2]);
        Assert.Equal(1.0, h, Tol);
        Assert.Equal(2.0 / 3, c, 1e-12);
        Assert.Equal(0.8, v, 1e-12);
        Assert.Equal(1.0, VMeasure.Compute([0, 0, 1, 1], [5, 5, 3, 3]).VMeasure, Tol);   // label names do not matter
        Assert.Equal(0.0, VMeasure.Compute([0, 0, 1, 1], [0, 0, 0, 0]).VMeasure, Tol);   // one cluster: homogeneity 0
    }
}
