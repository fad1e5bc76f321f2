namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// A loss on embeddings, in the shape of sentence-transformers' losses: the batch is a list of columns (e.g. anchor,
/// positive, negative), each a list of one embedding per row, plus optional per-row labels. <see cref="Compute"/>
/// returns the loss and ADDS ∂L/∂embedding to <c>gradients</c> (same shape as the columns). Losses never see the
/// encoder: the trainer embeds, calls the loss, then backpropagates each embedding's gradient through the encoder per
/// chunk ("embed, loss on embeddings, backprop per chunk"; training.md loss 4), which is also GradCache.
/// Definitions: training.md "Losses" (sentence-transformers at commit 85ec6455, sentence_transformers/losses/*.py).
/// </summary>
public abstract class EmbeddingLoss
{
    /// <summary>The columns the loss expects (e.g. 2 for pairs, 3 for triplets; MNRL takes 2 or more).</summary>
    public abstract string Name { get; }

    /// <summary>Computes the loss; adds its gradient with respect to every embedding to <paramref name="gradients"/>.</summary>
    public abstract double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients);

    /// <summary>Zero gradients shaped like <paramref name="columns"/>.</summary>
    public static double[][][] ZeroGradients(IReadOnlyList<double[][]> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        return columns.Select(c => c.Select(e => new double[e.Length]).ToArray()).ToArray();
    }

    /// <summary>Checks the column count, equal row counts and (when required) labels.</summary>
    protected static int CheckBatch(string name, IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, int minColumns, int maxColumns, bool needsLabels)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count < minColumns || columns.Count > maxColumns)
        {
            throw new ArgumentException($"{name} needs {(minColumns == maxColumns ? $"{minColumns}" : $"{minColumns}..{maxColumns}")} columns, got {columns.Count}.", nameof(columns));
        }
        var rows = columns[0].Length;
        if (rows == 0)
        {
            throw new ArgumentException($"{name}: the batch is empty.", nameof(columns));
        }
        if (columns.Any(c => c.Length != rows))
        {
            throw new ArgumentException($"{name}: every column needs {rows} rows.", nameof(columns));
        }
        if (needsLabels && (labels is null || labels.Count != rows))
        {
            throw new ArgumentException($"{name} needs one label per row ({rows}).", nameof(labels));
        }
        return rows;
    }
}

/// <summary>Cosine similarity with its gradient (sentence-transformers' <c>cos_sim</c>: both vectors through <c>F.normalize</c>, then a dot product).</summary>
internal static class Cosine
{
    public static double[] Normalize(double[] v, out double norm)
    {
        var y = new double[v.Length];
        norm = Reference.L2Normalize.Forward(v, y);
        return y;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    /// <summary>Adds g·∂cos/∂a to da and g·∂cos/∂b to db.</summary>
    public static void Backward(double g, double[] na, double normA, double[] nb, double normB, double[] da, double[] db)
    {
        var dna = new double[na.Length];
        var dnb = new double[nb.Length];
        for (var i = 0; i < na.Length; i++)
        {
            dna[i] = g * nb[i];
            dnb[i] = g * na[i];
        }
        Reference.L2Normalize.Backward(dna, na, normA, da);
        Reference.L2Normalize.Backward(dnb, nb, normB, db);
    }
}
