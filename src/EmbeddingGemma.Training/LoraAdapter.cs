using System.Globalization;

namespace EmbeddingGemma.Training;

/// <summary>
/// LoRA (Hu et al. 2021, as PEFT's <c>LoraLayer</c>): a target matrix W₀ [out, in] is used as
/// <c>W = W₀ + s·B·A</c> with A [r, in], B [out, r], s = alpha / r; only A and B train. Initialisation as PEFT:
/// A ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), B = 0, so training starts from the base model exactly.
/// The forward uses the merged W (<c>x·Wᵀ = x·W₀ᵀ + s·(x·Aᵀ)·Bᵀ</c>), so the encoder needs no LoRA code; the gradients
/// follow from the encoder's dW by the chain rule: <c>dA = s·Bᵀ·dW</c>, <c>dB = s·dW·Aᵀ</c> (exact, since
/// dW = Σ dYᵀX). Saving writes the merged W, which loads anywhere.
/// </summary>
public sealed class LoraAdapter
{
    /// <summary>The seven projections of a layer, by short name.</summary>
    public static IReadOnlyList<string> AllTargets { get; } = ["q", "k", "v", "o", "gate", "up", "down"];

    private static readonly Dictionary<string, string> Suffixes = new(StringComparer.Ordinal)
    {
        ["q"] = "self_attn.q_proj.weight",
        ["k"] = "self_attn.k_proj.weight",
        ["v"] = "self_attn.v_proj.weight",
        ["o"] = "self_attn.o_proj.weight",
        ["gate"] = "mlp.gate_proj.weight",
        ["up"] = "mlp.up_proj.weight",
        ["down"] = "mlp.down_proj.weight",
    };

    /// <summary>One adapted matrix: the encoder tensor it merges into, its base values and its A, B.</summary>
    public sealed record Pair(int TensorIndex, string Name, int Rows, int Cols, float[] Base, float[] A, float[] B)
    {
        public string NameA => Name.Replace(".weight", ".lora_A.weight", StringComparison.Ordinal);
        public string NameB => Name.Replace(".weight", ".lora_B.weight", StringComparison.Ordinal);
    }

    public LoraAdapter(IReadOnlyList<TrainableTensor> tensors, int rank, double alpha, IReadOnlyList<string> targets, IReadOnlyCollection<int> frozenLayers, int seed)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(frozenLayers);
        if (rank < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"LoRA rank must be at least 1, got {rank}.");
        }
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"LoRA alpha must be a positive number, got {alpha.ToString(CultureInfo.InvariantCulture)}.");
        }
        var unknown = targets.Where(t => !Suffixes.ContainsKey(t)).ToList();
        if (unknown.Count > 0 || targets.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"LoRA targets: unknown '{string.Join(", ", unknown)}' (valid: {string.Join(", ", AllTargets)}).");
        }
        Rank = rank;
        Alpha = alpha;
        Scale = alpha / rank;
        var suffixes = targets.Select(t => Suffixes[t]).ToHashSet(StringComparer.Ordinal);
        var rng = new Random(seed);
        var pairs = new List<Pair>();
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var layer = LayerOf(t.Name);
            if (layer is null || frozenLayers.Contains(layer.Value) || !suffixes.Contains(t.Name[(t.Name.IndexOf('.', 7) + 1)..]))
            {
                continue;
            }
            int rows = t.Shape[0], cols = t.Shape[1];
            if (rank > Math.Min(rows, cols))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"LoRA rank {rank} exceeds the smaller side of {t.Name} [{rows}, {cols}].");
            }
            var bound = 1.0 / Math.Sqrt(cols);
            var a = new float[rank * cols];
            for (var j = 0; j < a.Length; j++)
            {
                a[j] = (float)((2 * rng.NextDouble() - 1) * bound);
            }
            pairs.Add(new Pair(i, t.Name, rows, cols, (float[])t.Values.Clone(), a, new float[rows * rank]));
        }
        Pairs = pairs;
    }

    public int Rank { get; }

    public double Alpha { get; }

    /// <summary>alpha / rank.</summary>
    public double Scale { get; }

    public IReadOnlyList<Pair> Pairs { get; }

    /// <summary>The layer index of a tensor name <c>layers.N.…</c> (null for other tensors).</summary>
    public static int? LayerOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!name.StartsWith("layers.", StringComparison.Ordinal))
        {
            return null;
        }
        var dot = name.IndexOf('.', 7);
        return dot > 7 && int.TryParse(name.AsSpan(7, dot - 7), NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : null;
    }

    /// <summary>Writes <c>W = W₀ + s·B·A</c> (accumulated in double, rounded once) into <paramref name="merged"/>.</summary>
    public void Merge(Pair p, float[] merged)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(merged);
        var r = Rank;
        Parallel.For(0, p.Rows, o =>
        {
            var row = new double[p.Cols];
            for (var k = 0; k < r; k++)
            {
                double b = p.B[o * r + k];
                if (b == 0)
                {
                    continue;
                }
                for (var i = 0; i < p.Cols; i++)
                {
                    row[i] += b * p.A[k * p.Cols + i];
                }
            }
            for (var i = 0; i < p.Cols; i++)
            {
                merged[o * p.Cols + i] = (float)(p.Base[o * p.Cols + i] + Scale * row[i]);
            }
        });
    }

    /// <summary>Adds dA = s·Bᵀ·dW and dB = s·dW·Aᵀ (accumulated in double) for the matrix gradient <paramref name="dW"/>.</summary>
    public void Backward(Pair p, float[] dW, float[] dA, float[] dB)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(dW);
        ArgumentNullException.ThrowIfNull(dA);
        ArgumentNullException.ThrowIfNull(dB);
        int r = Rank, rows = p.Rows, cols = p.Cols;
        Parallel.For(0, r, k =>
        {
            var acc = new double[cols];
            for (var o = 0; o < rows; o++)
            {
                double b = p.B[o * r + k];
                if (b == 0)
                {
                    continue;
                }
                for (var i = 0; i < cols; i++)
                {
                    acc[i] += b * dW[o * cols + i];
                }
            }
            for (var i = 0; i < cols; i++)
            {
                dA[k * cols + i] += (float)(Scale * acc[i]);
            }
        });
        Parallel.For(0, rows, o =>
        {
            for (var k = 0; k < r; k++)
            {
                double acc = 0;
                for (var i = 0; i < cols; i++)
                {
                    acc += (double)dW[o * cols + i] * p.A[k * cols + i];
                }
                dB[o * r + k] += (float)(Scale * acc);
            }
        });
    }
}
