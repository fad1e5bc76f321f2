namespace EmbeddingGemma.Evaluation.Metrics;

/// <summary>
/// V-measure (Rosenberg and Hirschberg 2007), scikit-learn's <c>v_measure_score</c> with beta = 1: the harmonic mean of
/// homogeneity 1 − H(C|K)/H(C) and completeness 1 − H(K|C)/H(K); a term whose entropy H(C) or H(K) is 0 counts as 1.
/// </summary>
public static class VMeasure
{
    public static (double Homogeneity, double Completeness, double VMeasure) Compute(IReadOnlyList<int> gold, IReadOnlyList<int> clusters)
    {
        if (gold.Count != clusters.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"V-measure needs one cluster per item ({gold.Count} labels, {clusters.Count} clusters).");
        }
        int n = gold.Count;
        if (n == 0)
        {
            return (1, 1, 1);
        }
        var joint = new Dictionary<(int, int), int>();
        var cCount = new Dictionary<int, int>();
        var kCount = new Dictionary<int, int>();
        for (int i = 0; i < n; i++)
        {
            joint[(gold[i], clusters[i])] = joint.GetValueOrDefault((gold[i], clusters[i])) + 1;
            cCount[gold[i]] = cCount.GetValueOrDefault(gold[i]) + 1;
            kCount[clusters[i]] = kCount.GetValueOrDefault(clusters[i]) + 1;
        }
        double hC = Entropy(cCount.Values, n), hK = Entropy(kCount.Values, n);
        double hCgivenK = 0, hKgivenC = 0;
        foreach (var ((c, k), nck) in joint)
        {
            double p = (double)nck / n;
            hCgivenK -= p * Math.Log((double)nck / kCount[k]);
            hKgivenC -= p * Math.Log((double)nck / cCount[c]);
        }
        double h = hC == 0 ? 1 : 1 - hCgivenK / hC;
        double cm = hK == 0 ? 1 : 1 - hKgivenC / hK;
        double v = h + cm == 0 ? 0 : 2 * h * cm / (h + cm);
        return (h, cm, v);
    }

    private static double Entropy(IEnumerable<int> counts, int n)
    {
        double e = 0;
        foreach (int c in counts)
        {
            double p = (double)c / n;
            e -= p * Math.Log(p);
        }
        return e;
    }
}
