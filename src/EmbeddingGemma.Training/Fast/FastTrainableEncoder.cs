using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Training.Fast;

/// <summary>Options of <see cref="FastTrainableEncoder"/>.</summary>
public sealed record FastTrainableEncoderOptions
{
    /// <summary>Worker threads for the matrix products, row-wise ops and attention (≤ 0: <see cref="KernelCatalog.DefaultThreads"/>).</summary>
    public int Threads { get; init; }

    /// <summary>Kernel set (null: <see cref="KernelCatalog.Default"/>).</summary>
    public KernelSet? Kernels { get; init; }

    /// <summary>Train the token embedding table too (sparse: only the rows of ids in a mini-batch get gradient). Default: frozen.</summary>
    public bool TrainEmbeddings { get; init; }

    /// <summary>Layers whose tensors are frozen (no gradient, no optimizer state); gradients still flow through them to lower trainable layers.</summary>
    public IReadOnlyCollection<int> FrozenLayers { get; init; } = [];

    /// <summary>
    /// Most tokens run through forward and backward together (whole sequences, packed without padding; a longer
    /// sequence gets a pass of its own). Bounds the activation memory, about 7,424 floats (29.7 KB) per token per
    /// layer for EmbeddingGemma-300M (training.md): 8,192 tokens keep 5.8 GB. Larger passes only make the products
    /// taller.
    /// </summary>
    public int ChunkTokens { get; init; } = 8192;

    /// <summary>
    /// When a call to <see cref="FastTrainableEncoder.Embed"/> fits in one pass (≤ <see cref="ChunkTokens"/> tokens), keep
    /// its activations; a following <see cref="FastTrainableEncoder.Backward"/> on the same sequences with unchanged
    /// parameters (checked by a fingerprint of every tensor's values) then skips its re-run of the forward: the
    /// trainer's embed → loss → backward costs one forward instead of two. Exact either way (no dropout). Default on.
    /// </summary>
    public bool ReuseForward { get; init; } = true;

    /// <summary>Accumulate wall time per phase into <see cref="FastTrainableEncoder.ProfileSeconds"/> (benchmarks).</summary>
    public bool Profile { get; init; }
}

/// <summary>
/// The fp32 trainable encoder for EmbeddingGemma v1 (<see cref="ITrainableEncoder"/>): fp32 copies of every parameter,
/// a forward on the engine's kernels that keeps training.md's activation subset per packed mini-batch (layer input and
/// its norm factor, pre-norm q and k with theirs, v, attention output and log-sum-exp, o_proj output, the mid residual,
/// gate, up and down outputs with the norm factors; everything else — normed inputs, RoPE'd q/k, the GeGLU product —
/// is recomputed by the same kernels in the backward), and the full backward in reverse forward order: L2 normalize,
/// Dense ×2, mean pool, final norm, per layer post-FFN norm, down, GeGLU, gate/up, pre-FFN norm, post-attention norm,
/// o_proj, FlashAttention-2 tiled attention (<see cref="FastAttention"/>), inverse RoPE, q/k norms, q/k/v, input norm,
/// residuals, and the √d-scaled embedding (sparse rows, when trained). Sequences are packed without padding (a
/// sequence's values never depend on its batch mates). Forward products run on <see cref="KernelSet.GemmTile"/> (as
/// inference), backward ones on <see cref="KernelSet.GemmPacked"/> without transposes, through <see cref="TrainGemm"/>
/// over <see cref="FastTrainableEncoderOptions.Threads"/> workers. Norm weights are held as HF's zero-centred w (gain
/// 1 + w, recomputed per call since the optimizer updates values in place). Checked against the fp64
/// <see cref="Reference.ReferenceModel"/> on every tensor and against the engine's own forward in tests.
/// Not thread-safe: one call at a time.
/// </summary>
public sealed class FastTrainableEncoder : ITrainableEncoder
{
    private const int PerLayer = 13;
    private readonly GemmaConfig _c;
    private readonly KernelSet _k;
    private readonly int _threads;
    private readonly int _chunkTokens;
    private readonly bool _trainEmbeddings;
    private readonly bool[] _frozen;
    private readonly TrainableTensor[] _tensors;
    private readonly float[][] _gains;
    private readonly int[][] _denseShapes;
    private readonly Dictionary<double, (float[] Cos, float[] Sin, float[] NegSin)> _rope = [];
    private readonly Dictionary<string, double>? _profile;
    private readonly bool _reuseForward;
    private int[][]? _keptSequences;
    private ulong _keptFingerprint;
    private Workspace? _ws;

    /// <summary>Copies the weights of a loaded model (any stored type, dequantized to fp32) and its pipeline's Dense heads.</summary>
    public FastTrainableEncoder(EmbeddingGemmaModel model, FastTrainableEncoderOptions? options = null)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Weights, model.Pipeline.Dense, options)
    {
    }

    /// <summary>Copies <paramref name="weights"/> (dequantized to fp32) and the Dense heads.</summary>
    public FastTrainableEncoder(ModelWeights weights, IReadOnlyList<DenseLayer> dense, FastTrainableEncoderOptions? options = null)
        : this(CheckedConfig(weights), FromWeights(weights, dense, options ?? new FastTrainableEncoderOptions()), options ?? new FastTrainableEncoderOptions())
    {
    }

    // The tensors in forward order (embedding, 13 per layer, final norm, Dense heads), norms as w (not 1 + w), and the
    // Dense heads' [out, in] shapes.
    private FastTrainableEncoder(GemmaConfig c, (List<TrainableTensor> Tensors, int[][] DenseShapes) parts, FastTrainableEncoderOptions options)
    {
        if (c.NumAttentionHeads % c.NumKeyValueHeads != 0 || c.HeadDim % 2 != 0)
        {
            throw new ArgumentException($"Unsupported attention shape: {c.NumAttentionHeads} heads over {c.NumKeyValueHeads} KV heads, head_dim {c.HeadDim}.");
        }
        _c = c;
        _k = options.Kernels ?? KernelCatalog.Default;
        _threads = options.Threads > 0 ? options.Threads : KernelCatalog.DefaultThreads;
        _chunkTokens = Math.Max(1, options.ChunkTokens);
        _trainEmbeddings = options.TrainEmbeddings;
        _profile = options.Profile ? new Dictionary<string, double>(StringComparer.Ordinal) : null;
        _reuseForward = options.ReuseForward;
        _frozen = FrozenFlags(c, options);
        _denseShapes = parts.DenseShapes;
        _tensors = [.. parts.Tensors];
        _gains = _tensors.Select(t => t.IsNorm ? new float[t.Values.Length] : []).ToArray();
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var theta = c.LayerRopeTheta(l);
            if (!_rope.ContainsKey(theta))
            {
                _rope[theta] = RopeTable(theta, c.HeadDim, c.MaxPositionEmbeddings);
            }
        }
    }

    private static GemmaConfig CheckedConfig(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return weights.Config;
    }

    private static bool[] FrozenFlags(GemmaConfig c, FastTrainableEncoderOptions options)
    {
        var frozen = new bool[c.NumHiddenLayers];
        foreach (var l in options.FrozenLayers ?? [])
        {
            if ((uint)l >= (uint)c.NumHiddenLayers)
            {
                throw new ArgumentOutOfRangeException(nameof(options), $"Frozen layer {l} does not exist (the model has layers 0..{c.NumHiddenLayers - 1}).");
            }
            frozen[l] = true;
        }
        return frozen;
    }

    // The 13 tensors of layer l in forward order: (suffix, is a norm).
    private static readonly (string Suffix, bool IsNorm)[] LayerTensors =
    [
        ("input_layernorm.weight", true), ("self_attn.q_proj.weight", false), ("self_attn.k_proj.weight", false),
        ("self_attn.v_proj.weight", false), ("self_attn.q_norm.weight", true), ("self_attn.k_norm.weight", true),
        ("self_attn.o_proj.weight", false), ("post_attention_layernorm.weight", true), ("pre_feedforward_layernorm.weight", true),
        ("mlp.gate_proj.weight", false), ("mlp.up_proj.weight", false), ("mlp.down_proj.weight", false),
        ("post_feedforward_layernorm.weight", true),
    ];

    private static int[] LayerShape(GemmaConfig c, int index)
    {
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize;
        return index switch
        {
            1 => [qd, h],
            2 or 3 => [kvd, h],
            4 or 5 => [c.HeadDim],
            6 => [h, qd],
            9 or 10 => [ff, h],
            11 => [h, ff],
            _ => [h],
        };
    }

    private static string DenseName(int i) => i == 0 ? TensorNameMap.Dense2Hf : i == 1 ? TensorNameMap.Dense3Hf : $"{i + 2}_Dense.linear.weight";

    private static (List<TrainableTensor>, int[][]) FromWeights(ModelWeights weights, IReadOnlyList<DenseLayer> dense, FastTrainableEncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dense);
        var c = weights.Config;
        var frozen = FrozenFlags(c, options);
        int h = c.HiddenSize;
        static float[] W(float[] gain) => Array.ConvertAll(gain, g => g - 1f);
        var list = new List<TrainableTensor> { new("embed_tokens.weight", [c.VocabSize, h], weights.Embedding.Dequantize(), false, options.TrainEmbeddings) };
        for (var l = 0; l < weights.Layers.Count; l++)
        {
            var lw = weights.Layers[l];
            float[][] values =
            [
                W(lw.AttnNormGain), lw.Wq.Dequantize(), lw.Wk.Dequantize(), lw.Wv.Dequantize(), W(lw.QNormGain), W(lw.KNormGain),
                lw.Wo.Dequantize(), W(lw.PostAttnNormGain), W(lw.PreFfnNormGain), lw.WGate.Dequantize(), lw.WUp.Dequantize(),
                lw.WDown.Dequantize(), W(lw.PostFfnNormGain),
            ];
            for (var i = 0; i < LayerTensors.Length; i++)
            {
                list.Add(new(TensorNameMap.Layer(l, LayerTensors[i].Suffix), LayerShape(c, i), values[i], LayerTensors[i].IsNorm, !frozen[l]));
            }
        }
        list.Add(new("norm.weight", [h], W(weights.FinalNormGain), true));
        var denseShapes = new int[dense.Count][];
        for (var i = 0; i < dense.Count; i++)
        {
            denseShapes[i] = [dense[i].OutFeatures, dense[i].InFeatures];
            if (dense[i].InFeatures != (i == 0 ? h : dense[i - 1].OutFeatures))
            {
                throw new ArgumentException($"Dense head {i} ({dense[i].Name}) takes {dense[i].InFeatures} inputs; the previous stage gives {(i == 0 ? h : dense[i - 1].OutFeatures)}.");
            }
            list.Add(new(DenseName(i), denseShapes[i], dense[i].Weight.Dequantize(), false));
        }
        return (list, denseShapes);
    }

    // fp32 copies of a checkpoint's tensors (exact values: norms are stored as w), checked against its config.
    private static (List<TrainableTensor>, int[][]) FromCheckpoint(ModelCheckpoint checkpoint, FastTrainableEncoderOptions options)
    {
        var c = checkpoint.Config;
        var frozen = FrozenFlags(c, options);
        var byName = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        foreach (var t in checkpoint.Tensors)
        {
            byName[t.Name] = t;
        }
        float[] Take(string name, int[] shape)
        {
            if (!byName.TryGetValue(name, out var t))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{checkpoint.Name}: tensor '{name}' is missing from the checkpoint.");
            }
            var expected = shape.Aggregate(1L, (a, b) => a * b);
            if (t.Shape.Length != shape.Length || !t.Shape.Select(d => (int)d).SequenceEqual(shape) || t.Values.LongLength != expected)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{checkpoint.Name}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}] ({t.Values.LongLength} values); the config needs [{string.Join(", ", shape)}].");
            }
            return (float[])t.Values.Clone();
        }
        int h = c.HiddenSize;
        var list = new List<TrainableTensor> { new("embed_tokens.weight", [c.VocabSize, h], Take("embed_tokens.weight", [c.VocabSize, h]), false, options.TrainEmbeddings) };
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            for (var i = 0; i < LayerTensors.Length; i++)
            {
                var name = TensorNameMap.Layer(l, LayerTensors[i].Suffix);
                var shape = LayerShape(c, i);
                list.Add(new(name, shape, Take(name, shape), LayerTensors[i].IsNorm, !frozen[l]));
            }
        }
        list.Add(new("norm.weight", [h], Take("norm.weight", [h]), true));
        // the standard heads 2_Dense and 3_Dense (required, as when the checkpoint is loaded as a model), then any further ones
        var shapes = new List<int[]>();
        var inF = h;
        for (var i = 0; i < 2 || byName.ContainsKey(DenseName(i)); i++)
        {
            var name = DenseName(i);
            if (!byName.TryGetValue(name, out var t) || t.Shape.Length != 2)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{checkpoint.Name}: tensor '{name}' (a Dense head, [out, in]) is missing from the checkpoint.");
            }
            int[] shape = [(int)t.Shape[0], inF];
            list.Add(new(name, shape, Take(name, shape), false));
            shapes.Add(shape);
            inF = shape[0];
        }
        return (list, [.. shapes]);
    }

    /// <summary>
    /// The trainer's factory (<see cref="TrainerOptions.EncoderFactory"/>, the default): fp32 copies of
    /// <paramref name="checkpoint"/>'s tensors with the trainer's threads, embedding and frozen-layer choices.
    /// </summary>
    public static ITrainableEncoder Create(ModelCheckpoint checkpoint, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(options);
        var encoderOptions = new FastTrainableEncoderOptions
        {
            Threads = options.Threads,
            TrainEmbeddings = options.TrainEmbeddings,
            // the trainer's live-token budget bounds every pass: the embedding pass too, so the workspace (and the
            // activations kept per layer, sized by it) never exceeds the budget in two-pass mode
            ChunkTokens = options.MaxLiveTokens,
            // LoRA trains adapters of the layer matrices: every layer's products are needed, frozen or not.
            FrozenLayers = options.LoraRank > 0 ? [] : options.FrozenLayers.ToArray(),
        };
        // Straight from the checkpoint's values (no model in between: one copy of the weights, and a frozen tensor is
        // saved bit for bit as it came).
        var encoder = new FastTrainableEncoder(checkpoint.Config, FromCheckpoint(checkpoint, encoderOptions), encoderOptions);
        return encoder;
    }

    /// <inheritdoc/>
    public IReadOnlyList<TrainableTensor> Tensors => _tensors;

    /// <inheritdoc/>
    public GemmaConfig Config => _c;

    /// <summary>Length of the output vectors (the last Dense head's output, or the hidden size without heads).</summary>
    public int OutputDimension => _denseShapes.Length > 0 ? _denseShapes[^1][0] : _c.HiddenSize;

    /// <summary>The thread count in use.</summary>
    public int Threads => _threads;

    /// <summary>Wall seconds per phase since construction (empty unless <see cref="FastTrainableEncoderOptions.Profile"/>).</summary>
    public IReadOnlyDictionary<string, double> ProfileSeconds => _profile ?? [];

    private long Tick() => _profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();

    // Adds the time since t0 to a phase and returns a new start.
    private long Tock(string phase, long t0)
    {
        if (_profile is null)
        {
            return 0;
        }
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        _profile[phase] = _profile.GetValueOrDefault(phase) + (now - t0) / (double)System.Diagnostics.Stopwatch.Frequency;
        return now;
    }

    /// <inheritdoc/>
    public float[][] Embed(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken = default)
    {
        Validate(sequences);
        var result = new float[sequences.Count][];
        RefreshGains();
        var chunks = Chunks(sequences).ToList();
        var keep = _reuseForward && chunks.Count == 1;
        foreach (var chunk in chunks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ws = Prepare(sequences, chunk, keep);
            RunForward(ws, keep, cancellationToken);
            if (keep)
            {
                Remember(sequences);
            }
            for (var b = 0; b < chunk.Length; b++)
            {
                result[chunk[b]] = ws.Y.AsSpan(b * OutputDimension, OutputDimension).ToArray();
            }
        }
        return result;
    }

    /// <inheritdoc/>
    public void Backward(IReadOnlyList<int[]> sequences, IReadOnlyList<float[]> outputGradients, IReadOnlyList<float[]> gradients,
        CancellationToken cancellationToken = default)
    {
        Validate(sequences);
        ArgumentNullException.ThrowIfNull(outputGradients);
        ArgumentNullException.ThrowIfNull(gradients);
        if (outputGradients.Count != sequences.Count)
        {
            throw new ArgumentException($"{sequences.Count} sequences need as many output gradients (got {outputGradients.Count}).", nameof(outputGradients));
        }
        for (var i = 0; i < outputGradients.Count; i++)
        {
            if (outputGradients[i] is null || outputGradients[i].Length != OutputDimension)
            {
                throw new ArgumentException($"Output gradient {i} has {outputGradients[i]?.Length ?? 0} values; the output dimension is {OutputDimension}.", nameof(outputGradients));
            }
        }
        if (gradients.Count != _tensors.Length)
        {
            throw new ArgumentException($"Expected {_tensors.Length} gradient arrays (one per tensor), got {gradients.Count}.", nameof(gradients));
        }
        for (var t = 0; t < _tensors.Length; t++)
        {
            var g = gradients[t];
            // An empty array: this tensor's gradient is not wanted (frozen here, or by the caller: the trainer's LoRA
            // and frozen sets); its products are skipped.
            var ok = g is not null && (g.LongLength == _tensors[t].Count || g.Length == 0);
            if (!ok)
            {
                throw new ArgumentException($"Gradient array {t} ({_tensors[t].Name}) has {g?.Length ?? 0} values; {_tensors[t].Count} expected" +
                    " (or none: no gradient wanted).", nameof(gradients));
            }
        }
        RefreshGains();
        var chunks = Chunks(sequences).ToList();
        foreach (var chunk in chunks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Workspace ws;
            if (chunks.Count == 1 && IsKept(sequences))
            {
                ws = _ws!;
                Tock("reused forward", Tick());
            }
            else
            {
                ws = Prepare(sequences, chunk, keep: true);
                RunForward(ws, keep: true, cancellationToken);
                if (_reuseForward && chunks.Count == 1)
                {
                    Remember(sequences);
                }
            }
            for (var b = 0; b < chunk.Length; b++)
            {
                outputGradients[chunk[b]].CopyTo(ws.DY, b * OutputDimension);
            }
            RunBackward(ws, gradients, cancellationToken);
        }
    }

    // The activations in the workspace belong to these sequences and the current parameters.
    private void Remember(IReadOnlyList<int[]> sequences)
    {
        var t0 = Tick();
        _keptSequences = sequences.Select(s => s.ToArray()).ToArray();
        _keptFingerprint = Fingerprint();
        Tock("fingerprint", t0);
    }

    private bool IsKept(IReadOnlyList<int[]> sequences)
    {
        var kept = _keptSequences;
        if (kept is null || kept.Length != sequences.Count)
        {
            return false;
        }
        for (var i = 0; i < kept.Length; i++)
        {
            if (!kept[i].AsSpan().SequenceEqual(sequences[i]))
            {
                return false;
            }
        }
        var t0 = Tick();
        var same = Fingerprint() == _keptFingerprint;
        Tock("fingerprint", t0);
        return same;
    }

    /// <summary>A 64-bit fingerprint of every tensor's values (bit patterns; blocks hashed in parallel, combined in order).</summary>
    private ulong Fingerprint()
    {
        const int Block = 1 << 16;
        var items = new List<(int Tensor, int Start)>();
        for (var t = 0; t < _tensors.Length; t++)
        {
            for (var start = 0; start < _tensors[t].Values.Length; start += Block)
            {
                items.Add((t, start));
            }
        }
        var hashes = new ulong[items.Count];
        Workers.Blocks(items.Count, _threads, i =>
        {
            var (t, start) = items[i];
            var v = _tensors[t].Values;
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<float, ulong>(v.AsSpan(start, Math.Min(Block, v.Length - start) & ~1));
            ulong a = 0x9E3779B97F4A7C15UL ^ (ulong)i, b = 0xC2B2AE3D27D4EB4FUL;
            for (var j = 0; j + 1 < words.Length; j += 2)
            {
                a = (a ^ words[j]) * 0x100000001B3UL;
                b = (b ^ words[j + 1]) * 0x100000001B3UL;
            }
            if (words.Length % 2 == 1)
            {
                a = (a ^ words[^1]) * 0x100000001B3UL;
            }
            var count = Math.Min(Block, v.Length - start);
            if (count % 2 == 1)
            {
                b = (b ^ BitConverter.SingleToUInt32Bits(v[start + count - 1])) * 0x100000001B3UL;
            }
            hashes[i] = a * 31 + b;
        });
        ulong h = 1469598103934665603UL;
        foreach (var x in hashes)
        {
            h = (h ^ x) * 0x100000001B3UL;
        }
        return h;
    }

    private void Validate(IReadOnlyList<int[]> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        for (var n = 0; n < sequences.Count; n++)
        {
            var ids = sequences[n];
            if (ids is null || ids.Length == 0 || ids.Length > _c.MaxPositionEmbeddings)
            {
                throw new ArgumentException($"Sequence {n} has {ids?.Length ?? 0} tokens; 1..{_c.MaxPositionEmbeddings} allowed.", nameof(sequences));
            }
            for (var i = 0; i < ids.Length; i++)
            {
                if ((uint)ids[i] >= (uint)_c.VocabSize)
                {
                    throw new ArgumentException($"Token id {ids[i]} at position {i} of sequence {n} is outside the vocabulary (0..{_c.VocabSize - 1}).", nameof(sequences));
                }
            }
        }
    }

    // Whole sequences in the given order, up to _chunkTokens tokens per pass.
    private IEnumerable<int[]> Chunks(IReadOnlyList<int[]> sequences)
    {
        var start = 0;
        while (start < sequences.Count)
        {
            var end = start;
            var tokens = 0;
            while (end < sequences.Count && (end == start || tokens + sequences[end].Length <= _chunkTokens))
            {
                tokens += sequences[end].Length;
                end++;
            }
            yield return Enumerable.Range(start, end - start).ToArray();
            start = end;
        }
    }

    private void RefreshGains()
    {
        for (var t = 0; t < _tensors.Length; t++)
        {
            if (_tensors[t].IsNorm)
            {
                var w = _tensors[t].Values;
                var g = _gains[t];
                for (var i = 0; i < w.Length; i++)
                {
                    g[i] = 1f + w[i];
                }
            }
        }
    }

    private static (float[] Cos, float[] Sin, float[] NegSin) RopeTable(double theta, int headDim, int positions)
    {
        // angles in double (inv_freq = theta^(-2i/d)), rounded once to float, as the engine's FastEncoder
        var half = headDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        var neg = new float[positions * half];
        for (var i = 0; i < half; i++)
        {
            var invFreq = Math.Pow(theta, -2.0 * i / headDim);
            for (var p = 0; p < positions; p++)
            {
                var (sn, cs) = Math.SinCos(p * invFreq);
                cos[p * half + i] = (float)cs;
                sin[p * half + i] = (float)sn;
                neg[p * half + i] = -(float)sn;
            }
        }
        return (cos, sin, neg);
    }

    /// <summary>Tokens the activation workspace holds room for (0 when none is allocated); for tests of the memory budget.</summary>
    internal int WorkspaceTokens => _ws?.Capacity ?? 0;

    /// <summary>Layers whose activations the workspace holds.</summary>
    internal int WorkspaceLayers => _ws?.Layers.Count ?? 0;

    /// <inheritdoc/>
    public void ReleaseBuffers()
    {
        _ws = null;
        _keptSequences = null;
    }

    private Workspace Prepare(IReadOnlyList<int[]> sequences, int[] chunk, bool keep)
    {
        _keptSequences = null;
        var tokens = chunk.Sum(i => sequences[i].Length);
        var layers = keep ? _c.NumHiddenLayers : 1;
        if (_ws is null || _ws.Capacity < tokens || _ws.BatchCapacity < chunk.Length)
        {
            var cap = Math.Max(tokens, _ws?.Capacity ?? 0);
            var batch = Math.Max(chunk.Length, _ws?.BatchCapacity ?? 64);
            _ws = null;   // let the old buffers go before the new ones are allocated
            _ws = new Workspace(_c, _denseShapes, cap, batch);
        }
        var ws = _ws;
        ws.EnsureLayers(layers);
        ws.Set(sequences, chunk);
        return ws;
    }

    private LayerRefs Layer(int l)
    {
        var b = 1 + l * PerLayer;
        return new LayerRefs(b);
    }

    private readonly record struct LayerRefs(int Base)
    {
        public int AttnNorm => Base;
        public int Wq => Base + 1;
        public int Wk => Base + 2;
        public int Wv => Base + 3;
        public int QNorm => Base + 4;
        public int KNorm => Base + 5;
        public int Wo => Base + 6;
        public int PostAttn => Base + 7;
        public int PreFfn => Base + 8;
        public int Gate => Base + 9;
        public int Up => Base + 10;
        public int Down => Base + 11;
        public int PostFfn => Base + 12;
    }

    private int FinalNormIndex => 1 + _c.NumHiddenLayers * PerLayer;

    private float[] V(int tensor) => _tensors[tensor].Values;

    // ---------------------------------------------------------------- forward

    private void RunForward(Workspace ws, bool keep, CancellationToken ct)
    {
        var c = _c;
        int h = c.HiddenSize, t = ws.Tokens;
        var k = _k;
        var emb = V(0);
        var scale = (float)c.EmbedScale;
        var first = ws.Layers[0].Input;
        Workers.Rows(t, 64, _threads, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                k.Scale(emb.AsSpan(ws.Ids[r] * h, h), scale, first.AsSpan(r * h, h));
            }
        });
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            ct.ThrowIfCancellationRequested();
            var a = ws.Layers[keep ? l : 0];
            var output = !keep ? a.Input : l + 1 < c.NumHiddenLayers ? ws.Layers[l + 1].Input : ws.FinalIn;
            LayerForward(ws, l, a, output);
        }
        var finalIn = keep ? ws.FinalIn : ws.Layers[0].Input;
        var fg = _gains[FinalNormIndex];
        NormRows(finalIn, t, h, fg, ws.FinalR, ws.Hidden);
        // mean over each sequence's positions, summed in position order (as the engine)
        var pooled = ws.DenseIn[0];
        Workers.Blocks(ws.Count, _threads, s =>
        {
            var dst = pooled.AsSpan(s * h, h);
            dst.Clear();
            for (var r = 0; r < ws.Length[s]; r++)
            {
                k.Add(dst, ws.Hidden.AsSpan((ws.Offset[s] + r) * h, h), dst);
            }
            k.Scale(dst, 1f / ws.Length[s], dst);
        });
        for (var i = 0; i < _denseShapes.Length; i++)
        {
            var (o, inF) = (_denseShapes[i][0], _denseShapes[i][1]);
            TrainGemm.Forward(k, _threads, ws.DenseIn[i], ws.Count, V(FinalNormIndex + 1 + i), o, inF, ws.DenseIn[i + 1]);
        }
        var z = ws.DenseIn[_denseShapes.Length];
        var d = OutputDimension;
        for (var s = 0; s < ws.Count; s++)
        {
            ws.ZNorm[s] = k.L2Normalize(z.AsSpan(s * d, d), ws.Y.AsSpan(s * d, d));
        }
    }

    private void LayerForward(Workspace ws, int l, LayerActs a, float[] output)
    {
        var c = _c;
        int h = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, hd = c.HeadDim, ff = c.IntermediateSize, t = ws.Tokens;
        int qd = heads * hd, kvd = kvHeads * hd;
        var k = _k;
        var L = Layer(l);
        var t0 = Tick();
        NormRows(a.Input, t, h, _gains[L.AttnNorm], a.RAttn, ws.X);
        t0 = Tock("fwd.rows", t0);
        TrainGemm.Forward(k, _threads, ws.X, t, V(L.Wq), qd, h, a.Q);
        t0 = Tock("fwd.gemm", t0);
        TrainGemm.Forward(k, _threads, ws.X, t, V(L.Wk), kvd, h, a.K);
        t0 = Tock("fwd.gemm", t0);
        TrainGemm.Forward(k, _threads, ws.X, t, V(L.Wv), kvd, h, a.V);
        t0 = Tock("fwd.gemm", t0);
        QkNormRope(ws, l, a, saveR: true);
        t0 = Tock("fwd.rows", t0);
        var radius = c.IsSlidingLayer(l) ? c.SlidingWindowRadius : -1;
        var scale = (float)c.AttentionScale;
        Workers.Blocks(ws.Count * kvHeads, _threads, item =>
        {
            int s = item / kvHeads, kvh = item % kvHeads;
            FastAttention.Forward(k, ws.Qr, ws.Kr, a.V, a.O, a.Lse, ws.Offset[s], ws.Length[s], heads, kvHeads, hd, scale, radius, kvh);
        });
        t0 = Tock("fwd.attention", t0);
        TrainGemm.Forward(k, _threads, a.O, t, V(L.Wo), h, qd, a.Proj);
        t0 = Tock("fwd.gemm", t0);
        var gPost = _gains[L.PostAttn];
        var gPre = _gains[L.PreFfn];
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            Span<float> tmp = stackalloc float[h];
            for (var r = r0; r < r1; r++)
            {
                var proj = a.Proj.AsSpan(r * h, h);
                a.RPost[r] = InvRms(proj);
                k.RmsNorm(proj, gPost, (float)c.RmsNormEps, tmp);
                var mid = ws.Mid.AsSpan(r * h, h);
                k.Add(a.Input.AsSpan(r * h, h), tmp, mid);
                a.RPre[r] = InvRms(mid);
                k.RmsNorm(mid, gPre, (float)c.RmsNormEps, ws.X.AsSpan(r * h, h));
            }
        });
        t0 = Tock("fwd.rows", t0);
        TrainGemm.Forward(k, _threads, ws.X, t, V(L.Gate), ff, h, a.Gate);
        t0 = Tock("fwd.gemm", t0);
        TrainGemm.Forward(k, _threads, ws.X, t, V(L.Up), ff, h, a.Up);
        t0 = Tock("fwd.gemm", t0);
        Workers.Rows(t, 32, _threads, (r0, r1) =>
            k.GeluTanhMul(a.Gate.AsSpan(r0 * ff, (r1 - r0) * ff), a.Up.AsSpan(r0 * ff, (r1 - r0) * ff), ws.Act.AsSpan(r0 * ff, (r1 - r0) * ff)));
        TrainGemm.Forward(k, _threads, ws.Act, t, V(L.Down), h, ff, a.Down);
        t0 = Tock("fwd.gemm", t0);
        var gFfn = _gains[L.PostFfn];
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            Span<float> tmp = stackalloc float[h];
            for (var r = r0; r < r1; r++)
            {
                var down = a.Down.AsSpan(r * h, h);
                a.RFfn[r] = InvRms(down);
                k.RmsNorm(down, gFfn, (float)c.RmsNormEps, tmp);
                k.Add(ws.Mid.AsSpan(r * h, h), tmp, output.AsSpan(r * h, h));
            }
        });
        t0 = Tock("fwd.rows", t0);
    }

    // Qr/Kr = RoPE(norm(q/k)) per head; saves the per-head norm factors when asked.
    private void QkNormRope(Workspace ws, int l, LayerActs a, bool saveR)
    {
        var c = _c;
        int heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, hd = c.HeadDim;
        var half = hd / 2;
        var k = _k;
        var L = Layer(l);
        var (cos, sin, _) = _rope[c.LayerRopeTheta(l)];
        var gq = _gains[L.QNorm];
        var gk = _gains[L.KNorm];
        var eps = (float)c.RmsNormEps;
        Workers.Rows(ws.Tokens, 32, _threads, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                var pos = ws.Position[r];
                var cs = cos.AsSpan(pos * half, half);
                var sn = sin.AsSpan(pos * half, half);
                NormRope(r, a.Q, ws.Qr, a.RQ, heads, gq, cs, sn);
                NormRope(r, a.K, ws.Kr, a.RK, kvHeads, gk, cs, sn);
            }
        });

        // every head of token r: y = RoPE(RmsNorm(x; gain)), and the norm factor when asked
        void NormRope(int r, float[] x, float[] y, float[] rs, int count, float[] gain, ReadOnlySpan<float> cs, ReadOnlySpan<float> sn)
        {
            for (var head = 0; head < count; head++)
            {
                var off = (r * count + head) * hd;
                var xs = x.AsSpan(off, hd);
                var ys = y.AsSpan(off, hd);
                if (saveR)
                {
                    rs[r * count + head] = InvRms(xs);
                }
                k.RmsNorm(xs, gain, eps, ys);
                k.RopeNeox(ys, cs, sn);
            }
        }
    }

    private float InvRms(ReadOnlySpan<float> x) => 1f / MathF.Sqrt(_k.Dot(x, x) / x.Length + (float)_c.RmsNormEps);

    // y = RmsNorm(x; gain) per row; r = (mean(x²) + ε)^-½ per row.
    private void NormRows(float[] x, int rows, int n, float[] gain, float[] r, float[] y)
    {
        var eps = (float)_c.RmsNormEps;
        Workers.Rows(rows, 32, _threads, (r0, r1) =>
        {
            for (var i = r0; i < r1; i++)
            {
                var xr = x.AsSpan(i * n, n);
                r[i] = InvRms(xr);
                _k.RmsNorm(xr, gain, eps, y.AsSpan(i * n, n));
            }
        });
    }

    // ---------------------------------------------------------------- backward

    private void RunBackward(Workspace ws, IReadOnlyList<float[]> grads, CancellationToken ct)
    {
        var c = _c;
        int h = c.HiddenSize, t = ws.Tokens, b = ws.Count, d = OutputDimension;
        var k = _k;
        // L2 normalize: dz = (dy − y(y·dy))/‖z‖ (dy/ε below the clamp)
        var dz = ws.DDense[_denseShapes.Length];
        for (var s = 0; s < b; s++)
        {
            var dy = ws.DY.AsSpan(s * d, d);
            var y = ws.Y.AsSpan(s * d, d);
            var dst = dz.AsSpan(s * d, d);
            var norm = ws.ZNorm[s];
            if (norm <= KernelSet.NormFloor)
            {
                k.Scale(dy, 1f / KernelSet.NormFloor, dst);
                continue;
            }
            var dot = k.Dot(y, dy);
            for (var i = 0; i < d; i++)
            {
                dst[i] = (dy[i] - y[i] * dot) / norm;
            }
        }
        for (var i = _denseShapes.Length - 1; i >= 0; i--)
        {
            var (o, inF) = (_denseShapes[i][0], _denseShapes[i][1]);
            var ti = FinalNormIndex + 1 + i;
            LinearBackward(ws.DDense[i + 1], ws.DenseIn[i], b, V(ti), o, inF, ws.DDense[i], accumulateDx: false, Wanted(grads, ti));
        }
        // mean pool: every token of sequence s gets dpooled_s / S
        var dH = ws.DH;
        var dPooled = ws.DDense[0];
        Workers.Blocks(b, _threads, s =>
        {
            var src = dPooled.AsSpan(s * h, h);
            var inv = 1f / ws.Length[s];
            for (var r = 0; r < ws.Length[s]; r++)
            {
                k.Scale(src, inv, dH.AsSpan((ws.Offset[s] + r) * h, h));
            }
        });
        // final norm
        NormBackward(dH, ws.FinalIn, ws.FinalR, t, h, _gains[FinalNormIndex], ws.DX, accumulateDx: false, Wanted(grads, FinalNormIndex));
        (ws.DH, ws.DX) = (ws.DX, ws.DH);
        var lowest = _trainEmbeddings ? -1 : Array.FindIndex(_frozen, f => !f);
        if (lowest < 0 && !_trainEmbeddings)
        {
            return;
        }
        for (var l = c.NumHiddenLayers - 1; l >= Math.Max(0, lowest); l--)
        {
            ct.ThrowIfCancellationRequested();
            LayerBackward(ws, l, ws.Layers[l], ws.DH, grads);
        }
        if (_trainEmbeddings && grads[0].Length > 0)
        {
            var dE = grads[0];
            var scale = (float)c.EmbedScale;
            for (var r = 0; r < t; r++)
            {
                k.Axpy(scale, ws.DH.AsSpan(r * h, h), dE.AsSpan(ws.Ids[r] * h, h));
            }
        }
    }

    /// <summary>The gradient buffer of tensor <paramref name="i"/>, or null when it is frozen or the caller wants none (empty array).</summary>
    private float[]? Wanted(IReadOnlyList<float[]> grads, int i) => _tensors[i].Trainable && grads[i].Length > 0 ? grads[i] : null;

    private void LayerBackward(Workspace ws, int l, LayerActs a, float[] dH, IReadOnlyList<float[]> grads)
    {
        var c = _c;
        int h = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, hd = c.HeadDim, ff = c.IntermediateSize, t = ws.Tokens;
        int qd = heads * hd, kvd = kvHeads * hd;
        var k = _k;
        var L = Layer(l);
        var t0 = Tick();
        var train = !_frozen[l];
        float[]? G(int i) => train ? Wanted(grads, i) : null;
        t0 = Tock("bwd.rows", t0);
        // out = mid + post_ffn_norm(down): dMid starts as dOut (dH, updated in place)
        NormBackward(dH, a.Down, a.RFfn, t, h, _gains[L.PostFfn], ws.DDown, accumulateDx: false, G(L.PostFfn));
        t0 = Tock("bwd.rows", t0);
        // recompute the GeGLU product for down's weight gradient
        Workers.Rows(t, 32, _threads, (r0, r1) =>
            k.GeluTanhMul(a.Gate.AsSpan(r0 * ff, (r1 - r0) * ff), a.Up.AsSpan(r0 * ff, (r1 - r0) * ff), ws.Act.AsSpan(r0 * ff, (r1 - r0) * ff)));
        LinearBackward(ws.DDown, ws.Act, t, V(L.Down), h, ff, ws.DAct, accumulateDx: false, G(L.Down));
        t0 = Tock("bwd.linear", t0);
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            var n = (r1 - r0) * ff;
            k.GeluTanhMulBackward(ws.DAct.AsSpan(r0 * ff, n), a.Gate.AsSpan(r0 * ff, n), a.Up.AsSpan(r0 * ff, n), ws.DGate.AsSpan(r0 * ff, n), ws.DUp.AsSpan(r0 * ff, n));
        });
        t0 = Tock("bwd.rows", t0);
        // mid = input + post_attn_norm(proj), recomputed by the forward's operations (bit for bit): one [t, h] buffer
        // instead of one per layer
        var gPost = _gains[L.PostAttn];
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            Span<float> tmp = stackalloc float[h];
            for (var r = r0; r < r1; r++)
            {
                k.RmsNorm(a.Proj.AsSpan(r * h, h), gPost, (float)c.RmsNormEps, tmp);
                k.Add(a.Input.AsSpan(r * h, h), tmp, ws.Mid.AsSpan(r * h, h));
            }
        });
        // x2 = pre_ffn_norm(mid), recomputed
        var gPre = _gains[L.PreFfn];
        RecomputeNormed(ws, ws.Mid, gPre, t);
        t0 = Tock("bwd.rows", t0);
        LinearBackward(ws.DGate, ws.X, t, V(L.Gate), ff, h, ws.DX, accumulateDx: false, G(L.Gate));
        t0 = Tock("bwd.linear", t0);
        LinearBackward(ws.DUp, ws.X, t, V(L.Up), ff, h, ws.DX, accumulateDx: true, G(L.Up));
        t0 = Tock("bwd.linear", t0);
        NormBackward(ws.DX, ws.Mid, a.RPre, t, h, gPre, dH, accumulateDx: true, G(L.PreFfn));
        t0 = Tock("bwd.rows", t0);
        // mid = input + post_attn_norm(o_proj(attn))
        NormBackward(dH, a.Proj, a.RPost, t, h, gPost, ws.DDown, accumulateDx: false, G(L.PostAttn));
        t0 = Tock("bwd.rows", t0);
        LinearBackward(ws.DDown, a.O, t, V(L.Wo), h, qd, ws.DO, accumulateDx: false, G(L.Wo));
        t0 = Tock("bwd.linear", t0);
        // attention: recompute RoPE'd q, k; FlashAttention-2 backward per (sequence, KV head)
        QkNormRope(ws, l, a, saveR: false);
        t0 = Tock("bwd.rows", t0);
        Array.Clear(ws.DKr, 0, t * kvd);
        t0 = Tock("bwd.rows", t0);
        Array.Clear(ws.DV, 0, t * kvd);
        t0 = Tock("bwd.rows", t0);
        var radius = c.IsSlidingLayer(l) ? c.SlidingWindowRadius : -1;
        var scale = (float)c.AttentionScale;
        Workers.Blocks(ws.Count * kvHeads, _threads, item =>
        {
            int s = item / kvHeads, kvh = item % kvHeads;
            FastAttention.Backward(k, ws.DO, ws.Qr, ws.Kr, a.V, a.O, a.Lse, ws.DQr, ws.DKr, ws.DV, ws.Offset[s], ws.Length[s], heads, kvHeads, hd, scale, radius, kvh);
        });
        t0 = Tock("bwd.attention", t0);
        // inverse RoPE (rotate by −φ) in place
        var (cos, _, negSin) = _rope[c.LayerRopeTheta(l)];
        var half = hd / 2;
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                var pos = ws.Position[r];
                var cs = cos.AsSpan(pos * half, half);
                var sn = negSin.AsSpan(pos * half, half);
                for (var head = 0; head < heads; head++)
                {
                    k.RopeNeox(ws.DQr.AsSpan(r * qd + head * hd, hd), cs, sn);
                }
                for (var head = 0; head < kvHeads; head++)
                {
                    k.RopeNeox(ws.DKr.AsSpan(r * kvd + head * hd, hd), cs, sn);
                }
            }
        });
        t0 = Tock("bwd.rows", t0);
        NormBackward(ws.DQr, a.Q, a.RQ, t * heads, hd, _gains[L.QNorm], ws.DQ, accumulateDx: false, G(L.QNorm));
        t0 = Tock("bwd.rows", t0);
        NormBackward(ws.DKr, a.K, a.RK, t * kvHeads, hd, _gains[L.KNorm], ws.DK, accumulateDx: false, G(L.KNorm));
        t0 = Tock("bwd.rows", t0);
        // q/k/v of x = input_norm(input), recomputed
        var gAttn = _gains[L.AttnNorm];
        RecomputeNormed(ws, a.Input, gAttn, t);
        t0 = Tock("bwd.rows", t0);
        LinearBackward(ws.DQ, ws.X, t, V(L.Wq), qd, h, ws.DX, accumulateDx: false, G(L.Wq));
        t0 = Tock("bwd.linear", t0);
        LinearBackward(ws.DK, ws.X, t, V(L.Wk), kvd, h, ws.DX, accumulateDx: true, G(L.Wk));
        t0 = Tock("bwd.linear", t0);
        LinearBackward(ws.DV, ws.X, t, V(L.Wv), kvd, h, ws.DX, accumulateDx: true, G(L.Wv));
        t0 = Tock("bwd.linear", t0);
        NormBackward(ws.DX, a.Input, a.RAttn, t, h, gAttn, dH, accumulateDx: true, G(L.AttnNorm));
        t0 = Tock("bwd.rows", t0);
    }

    /// <summary>ws.X = RMSNorm(<paramref name="input"/>) with <paramref name="gain"/> (the normed input of a layer's products, not kept by the forward).</summary>
    private void RecomputeNormed(Workspace ws, float[] input, float[] gain, int t)
    {
        int h = _c.HiddenSize;
        var eps = (float)_c.RmsNormEps;
        var k = _k;
        Workers.Rows(t, 32, _threads, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                k.RmsNorm(input.AsSpan(r * h, h), gain, eps, ws.X.AsSpan(r * h, h));
            }
        });
    }

    // dW += dYᵀ·X (dw null: frozen), then dX (+)= dY·W, both on the packed kernel reading the operands as stored.
    private void LinearBackward(float[] dy, float[] x, int m, float[] w, int outF, int inF, float[] dx, bool accumulateDx, float[]? dw)
    {
        var t0 = Tick();
        if (dw is not null)
        {
            TrainGemm.BackwardWeight(_k, _threads, dy, x, m, outF, inF, dw);
            t0 = Tock("bwd.linear.dW", t0);
        }
        TrainGemm.BackwardInput(_k, _threads, dy, m, w, outF, inF, dx, accumulateDx);
        Tock("bwd.linear.dX", t0);
    }

    /// <summary>
    /// RMSNorm backward over rows of n (op 2 / op 4) on <see cref="KernelSet.RmsNormBackward"/>: dx (+)= r·(u − x̂·mean(u⊙x̂)),
    /// u = dy⊙g; dw += Σ dy⊙x̂ (null: frozen), summed in float per fixed block of 64 rows and over blocks in double, in
    /// block order (deterministic for any thread count).
    /// </summary>
    private void NormBackward(float[] dy, float[] x, float[] rInv, int rows, int n, float[] gain, float[] dx, bool accumulateDx, float[]? dw)
    {
        const int Block = 64;
        var blocks = (rows + Block - 1) / Block;
        var partial = dw is null ? null : new float[blocks * n];
        var k = _k;
        Workers.Blocks(blocks, _threads, bi =>
        {
            int r0 = bi * Block, r1 = Math.Min(rows, r0 + Block);
            var acc = partial is null ? default : partial.AsSpan(bi * n, n);
            Span<float> tmp = accumulateDx ? stackalloc float[n] : default;
            for (var row = r0; row < r1; row++)
            {
                var dxr = dx.AsSpan(row * n, n);
                k.RmsNormBackward(dy.AsSpan(row * n, n), x.AsSpan(row * n, n), gain, rInv[row], acc, accumulateDx ? tmp : dxr);
                if (accumulateDx)
                {
                    k.Add(dxr, tmp, dxr);
                }
            }
        });
        if (dw is not null)
        {
            for (var i = 0; i < n; i++)
            {
                double s = 0;
                for (var bi = 0; bi < blocks; bi++)
                {
                    s += partial![bi * n + i];
                }
                dw[i] += (float)s;
            }
        }
    }

    // ---------------------------------------------------------------- buffers

    private sealed class LayerActs(int t, GemmaConfig c)
    {
        public readonly float[] Input = new float[t * c.HiddenSize];
        public readonly float[] RAttn = new float[t];
        public readonly float[] Q = new float[t * c.NumAttentionHeads * c.HeadDim];
        public readonly float[] K = new float[t * c.NumKeyValueHeads * c.HeadDim];
        public readonly float[] V = new float[t * c.NumKeyValueHeads * c.HeadDim];
        public readonly float[] RQ = new float[t * c.NumAttentionHeads];
        public readonly float[] RK = new float[t * c.NumKeyValueHeads];
        public readonly float[] O = new float[t * c.NumAttentionHeads * c.HeadDim];
        public readonly float[] Lse = new float[t * c.NumAttentionHeads];
        public readonly float[] Proj = new float[t * c.HiddenSize];
        public readonly float[] RPost = new float[t];
        public readonly float[] RPre = new float[t];
        public readonly float[] Gate = new float[t * c.IntermediateSize];
        public readonly float[] Up = new float[t * c.IntermediateSize];
        public readonly float[] Down = new float[t * c.HiddenSize];
        public readonly float[] RFfn = new float[t];
    }

    private sealed class Workspace
    {
        private readonly GemmaConfig _c;
        private readonly List<LayerActs> _layers = [];

        public Workspace(GemmaConfig c, int[][] dense, int capacity, int batchCapacity)
        {
            _c = c;
            Capacity = capacity;
            BatchCapacity = batchCapacity;
            int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize;
            Ids = new int[capacity];
            Position = new int[capacity];
            Offset = new int[batchCapacity];
            Length = new int[batchCapacity];
            X = new float[capacity * h];
            Mid = new float[capacity * h];
            Qr = new float[capacity * qd];
            Kr = new float[capacity * kvd];
            Act = new float[capacity * ff];
            FinalIn = new float[capacity * h];
            FinalR = new float[capacity];
            Hidden = new float[capacity * h];
            DH = new float[capacity * h];
            DX = new float[capacity * h];
            DDown = new float[capacity * h];
            DAct = new float[capacity * ff];
            DGate = new float[capacity * ff];
            DUp = new float[capacity * ff];
            DO = new float[capacity * qd];
            DQr = new float[capacity * qd];
            DQ = new float[capacity * qd];
            DKr = new float[capacity * kvd];
            DK = new float[capacity * kvd];
            DV = new float[capacity * kvd];
            var dims = new List<int> { h };
            dims.AddRange(dense.Select(d => d[0]));
            DenseIn = dims.Select(d => new float[batchCapacity * d]).ToArray();
            DDense = dims.Select(d => new float[batchCapacity * d]).ToArray();
            var outDim = dims[^1];
            Y = new float[batchCapacity * outDim];
            DY = new float[batchCapacity * outDim];
            ZNorm = new float[batchCapacity];
        }

        public int Capacity { get; }
        public int BatchCapacity { get; }
        public int Tokens { get; private set; }
        public int Count { get; private set; }
        public IReadOnlyList<LayerActs> Layers => _layers;
        public int[] Ids { get; }
        public int[] Position { get; }
        public int[] Offset { get; }
        public int[] Length { get; }
        public float[] X { get; }
        public float[] Mid { get; }
        public float[] Qr { get; }
        public float[] Kr { get; }
        public float[] Act { get; }
        public float[] FinalIn { get; }
        public float[] FinalR { get; }
        public float[] Hidden { get; }
        public float[] DH { get; set; }
        public float[] DX { get; set; }
        public float[] DDown { get; }
        public float[] DAct { get; }
        public float[] DGate { get; }
        public float[] DUp { get; }
        public float[] DO { get; }
        public float[] DQr { get; }
        public float[] DQ { get; }
        public float[] DKr { get; }
        public float[] DK { get; }
        public float[] DV { get; }
        public float[][] DenseIn { get; }
        public float[][] DDense { get; }
        public float[] Y { get; }
        public float[] DY { get; }
        public float[] ZNorm { get; }

        public void EnsureLayers(int count)
        {
            while (_layers.Count < count)
            {
                _layers.Add(new LayerActs(Capacity, _c));
            }
        }

        public void Set(IReadOnlyList<int[]> sequences, int[] chunk)
        {
            Count = chunk.Length;
            var off = 0;
            for (var s = 0; s < chunk.Length; s++)
            {
                var ids = sequences[chunk[s]];
                Offset[s] = off;
                Length[s] = ids.Length;
                ids.CopyTo(Ids, off);
                for (var p = 0; p < ids.Length; p++)
                {
                    Position[off + p] = p;
                }
                off += ids.Length;
            }
            Tokens = off;
        }
    }
}
