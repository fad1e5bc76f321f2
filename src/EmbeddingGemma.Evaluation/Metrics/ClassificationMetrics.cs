namespace EmbeddingGemma.Evaluation.Metrics;

/// <summary>Accuracy, macro-F1 and average precision, with scikit-learn's definitions.</summary>
public static class ClassificationMetrics
{
    public static double Accuracy(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        int ok = 0;
        for (int i = 0; i < gold.Count; i++)
        {
            ok += gold[i] == predicted[i] ? 1 : 0;
        }
        return gold.Count == 0 ? 0 : (double)ok / gold.Count;
    }

    /// <summary>Unweighted mean of per-class F1 over the classes present in gold or predicted labels
    /// (sklearn <c>f1_score(average="macro")</c>; a class with no true and no predicted positives is absent; 0/0 = 0).</summary>
    public static double MacroF1(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        var classes = gold.Concat(predicted).Distinct().ToArray();
        double sum = 0;
        foreach (int c in classes)
        {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < gold.Count; i++)
            {
                bool g = gold[i] == c, p = predicted[i] == c;
                tp += g && p ? 1 : 0;
                fp += !g && p ? 1 : 0;
                fn += g && !p ? 1 : 0;
            }
            int denom = 2 * tp + fp + fn;
            sum += denom == 0 ? 0 : 2.0 * tp / denom;
        }
        return classes.Length == 0 ? 0 : sum / classes.Length;
    }

    /// <summary>
    /// Average precision of a score ranking against binary labels, sklearn's <c>average_precision_score</c>:
    /// AP = Σ_n (R_n − R_{n−1}) P_n over the distinct score thresholds in decreasing order (tied scores enter together).
    /// </summary>
    public static double AveragePrecision(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        int positives = labels.Count(l => l);
        if (positives == 0)
        {
            return 0;
        }
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        double ap = 0, prevRecall = 0;
        int tp = 0, seen = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j < order.Length && scores[order[j]] == scores[order[i]])
            {
                tp += labels[order[j]] ? 1 : 0;
                seen++;
                j++;
            }
            double recall = (double)tp / positives, precision = (double)tp / seen;
            ap += (recall - prevRecall) * precision;
            prevRecall = recall;
            i = j;
        }
        return ap;
    }

    /// <summary>Best accuracy and best F1 over all thresholds on the score (MTEB pair classification's
    /// <c>cosine_accuracy</c> / <c>cosine_f1</c>: predict positive when score &gt;= threshold).</summary>
    public static (double Accuracy, double F1) BestThresholdAccuracyAndF1(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        int n = scores.Count, positives = labels.Count(l => l);
        var order = Enumerable.Range(0, n).OrderByDescending(i => scores[i]).ToArray();
        double bestAcc = (double)(n - positives) / n, bestF1 = 0;
        int tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && scores[order[j]] == scores[order[i]])
            {
                if (labels[order[j]])
                {
                    tp++;
                }
                else
                {
                    fp++;
                }
                j++;
            }
            int fn = positives - tp, tn = n - positives - fp;
            bestAcc = Math.Max(bestAcc, (double)(tp + tn) / n);
            if (tp > 0)
            {
                bestF1 = Math.Max(bestF1, 2.0 * tp / (2 * tp + fp + fn));
            }
            i = j;
        }
        return (bestAcc, bestF1);
    }
}
