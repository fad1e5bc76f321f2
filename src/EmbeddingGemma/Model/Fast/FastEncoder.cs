using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Attention;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Model.Fast;

/// <summary>Options of the fast engine.</summary>
public sealed record FastEncoderOptions
{
    /// <summary>Threads for matrix products and attention (≤ 0: <see cref="KernelCatalog.DefaultThreads"/>).</summary>
    public int Threads { get; init; }

    /// <summary>Kernel set (null: <see cref="KernelCatalog.Default"/>).</summary>
    public KernelSet? Kernels { get; init; }

    /// <summary>
    /// Tokens processed together through all layers (whole sequences, packed without padding; a longer sequence gets a
    /// chunk of its own). Bounds the workspace (about 7,000 floats per token for EmbeddingGemma-300M: 14 MB at 512)
    /// while keeping the matrix products tall enough to run at full speed.
    /// </summary>
    public int ChunkTokens { get; init; } = 512;

    /// <summary>Time each phase of the forward pass (<see cref="FastEncoder.Profile"/>); default from <c>EMBEDDINGGEMMA_PROFILE=1</c>.</summary>
    public bool Profile { get; init; } = EngineProfile.FromEnvironment();
}

/// <summary>The numbers of the backbone the fast engine needs (taken from the model configuration).</summary>
internal sealed record FastEncoderShape
{
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int MaxPositions { get; init; }
    public required int VocabSize { get; init; }
    public required float Eps { get; init; }
    /// <summary>query_pre_attn_scalar^-½ (spec §7.9).</summary>
    public required float AttentionScale { get; init; }
    /// <summary>√hidden_size rounded to float32 (spec §2.2).</summary>
    public required float EmbedScale { get; init; }
    /// <summary>Per layer: the sliding radius W/2, or −1 for a global layer.</summary>
    public required IReadOnlyList<int> LayerRadius { get; init; }
    /// <summary>Per layer: the RoPE base.</summary>
    public required IReadOnlyList<double> LayerRopeTheta { get; init; }

    public static FastEncoderShape Of(GemmaConfig config) => new()
    {
        HiddenSize = config.HiddenSize,
        IntermediateSize = config.IntermediateSize,
        Heads = config.NumAttentionHeads,
        KvHeads = config.NumKeyValueHeads,
        HeadDim = config.HeadDim,
        MaxPositions = config.MaxPositionEmbeddings,
        VocabSize = config.VocabSize,
        Eps = (float)config.RmsNormEps,
        AttentionScale = (float)config.AttentionScale,
        EmbedScale = (float)config.EmbedScale,
        LayerRadius = Enumerable.Range(0, config.NumHiddenLayers).Select(l => config.IsSlidingLayer(l) ? config.SlidingWindowRadius : -1).ToArray(),
        LayerRopeTheta = Enumerable.Range(0, config.NumHiddenLayers).Select(config.LayerRopeTheta).ToArray(),
    };
}

/// <summary>
/// The fast CPU forward pass: ids in, mean-pooled final hidden states out, like the reference encoder. Sequences are
/// sorted by length and packed into chunks of whole sequences with no padding; every row-wise op (norms, RoPE, GEMM
/// rows) and the per-sequence attention compute a token's values by the same float operations whatever its batch
/// mates and the thread count, so a text's vector is bit-identical across batchings. The workspace is allocated once
/// per chunk size and reused; nothing is allocated per token.
/// </summary>
public sealed class FastEncoder
{
    private readonly ModelWeights _w;
    private readonly FastEncoderShape _s;
    private readonly KernelSet _k;
    private readonly int _threads;
    private readonly int _chunkTokens;
    private readonly object _gate = new();
    private readonly Dictionary<double, (float[] Cos, float[] Sin)> _rope = [];
    private Workspace? _ws;

    [ThreadStatic] private static AttentionScratch? t_scratch;

    public FastEncoder(ModelWeights weights, FastEncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new FastEncoderOptions();
        _w = weights;
        _s = FastEncoderShape.Of(weights.Config);
        Profile = options.Profile ? new EngineProfile() : null;
        _k = options.Kernels ?? KernelCatalog.Default;
        _threads = options.Threads > 0 ? options.Threads : KernelCatalog.DefaultThreads;
        _chunkTokens = Math.Max(1, options.ChunkTokens);
        var s = _s;
        foreach (var theta in s.LayerRopeTheta.Distinct())
        {
            _rope[theta] = RopeTable(theta, s.HeadDim, s.MaxPositions);
        }
    }

    /// <summary>The weights (the same objects the reference encoder reads).</summary>
    public ModelWeights Weights => _w;

    /// <summary>Phase timings of this engine (null unless <see cref="FastEncoderOptions.Profile"/>).</summary>
    public EngineProfile? Profile { get; }

    /// <summary>The kernel set in use.</summary>
    public KernelSet Kernels => _k;

    /// <summary>The thread count in use.</summary>
    public int Threads => _threads;

    // cos/sin [position, headDim/2] with angles in double (inv_freq = theta^(-2i/d)), rounded once to float.
    internal static (float[] Cos, float[] Sin) RopeTable(double theta, int headDim, int positions)
    {
        var half = headDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (var i = 0; i < half; i++)
        {
            var invFreq = Math.Pow(theta, -2.0 * i / headDim);
            for (var p = 0; p < positions; p++)
            {
                var (sn, cs) = Math.SinCos(p * invFreq);
                cos[p * half + i] = (float)cs;
                sin[p * half + i] = (float)sn;
            }
        }
        return (cos, sin);
    }

    /// <summary>
    /// Encodes each sequence (ids used as given; 1..MaxPositions ids each, every id in the vocabulary) and writes its
    /// mean-pooled final hidden state to <paramref name="pooled"/>[i·hidden ..].
    /// </summary>
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var s = _s;
        var h = s.HiddenSize;
        if (pooled.Length < sequences.Count * h)
        {
            throw new ArgumentException($"pooled needs {sequences.Count * h} floats, got {pooled.Length}.", nameof(pooled));
        }
        for (var n = 0; n < sequences.Count; n++)
        {
            var ids = sequences[n].Span;
            if (ids.Length == 0 || ids.Length > s.MaxPositions)
            {
                throw new EmbeddingGemmaException(ids.Length == 0 ? ErrorKind.InvalidArgument : ErrorKind.InputTooLong,
                    $"Sequence {n} has {ids.Length} tokens; 1..{s.MaxPositions} allowed.");
            }
            for (var i = 0; i < ids.Length; i++)
            {
                if ((uint)ids[i] >= (uint)s.VocabSize)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Token id {ids[i]} at position {i} of sequence {n} is outside the vocabulary (0..{s.VocabSize - 1}).");
                }
            }
        }
        // Longest first, stable: chunks of whole sequences up to _chunkTokens tokens.
        var chunks = PackedChunk.Plan(sequences, _chunkTokens, out var order, out var total);
        lock (_gate)
        {
            foreach (var (start, end, tokens) in chunks)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var ws = _ws is { } w && w.Tokens >= tokens ? w : _ws = new Workspace(s, Math.Max(tokens, Math.Min(_chunkTokens, total)));
                ws.SetChunk(sequences, order.AsSpan(start, end - start), tokens);
                RunChunk(ws, cancellationToken);
                for (var c = 0; c < ws.Count; c++)
                {
                    ws.Pooled.AsSpan(c * h, h).CopyTo(pooled.Slice(ws.Index[c] * h, h));
                }
            }
        }
    }

    private void RunChunk(Workspace ws, CancellationToken ct)
    {
        var s = _s;
        int h = s.HiddenSize, hd = s.HeadDim, qd = s.Heads * hd, kvd = s.KvHeads * hd, f = s.IntermediateSize, t = ws.TokenCount;
        var k = _k;
        Profile?.AddTokens(t);
        var t0 = Start();
        // Embedding rows × √hidden.
        Rows(t, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                var row = ws.Hidden.AsSpan(r * h, h);
                _w.Embedding.DequantizeRow(ws.Ids[r], row);
                k.Scale(row, s.EmbedScale, row);
            }
        });
        Profile?.Add(EnginePhase.Embedding, t0);
        for (var l = 0; l < _w.Layers.Count; l++)
        {
            ct.ThrowIfCancellationRequested();
            var lw = _w.Layers[l];
            var (cos, sin) = _rope[s.LayerRopeTheta[l]];
            if (l == 0)
            {
                // later layers get this norm fused with the previous layer's post-FFN norm + residual (one region)
                t0 = Start();
                RmsNormRows(ws.Hidden, lw.AttnNormGain, ws.X, t, h);
                Profile?.Add(EnginePhase.Norms, t0);
            }
            t0 = Start();
            WeightMatrix.MatMulShared(ws.X, t, [lw.Wq, lw.Wk, lw.Wv], [ws.Q, ws.K, ws.V], _threads, k);
            Profile?.Add(EnginePhase.QkvProjection, t0);
            t0 = Start();
            // q/k RMSNorm per head, then RoPE at the position inside the sequence.
            Rows(t, 4 * (s.Heads + s.KvHeads) * hd, (r0, r1) =>
            {
                var half = hd / 2;
                for (var r = r0; r < r1; r++)
                {
                    var pos = ws.Position[r];
                    var c = cos.AsSpan(pos * half, half);
                    var sn = sin.AsSpan(pos * half, half);
                    for (var head = 0; head < s.Heads; head++)
                    {
                        var x = ws.Q.AsSpan(r * qd + head * hd, hd);
                        k.RmsNorm(x, lw.QNormGain, s.Eps, x);
                        k.RopeNeox(x, c, sn);
                    }
                    for (var head = 0; head < s.KvHeads; head++)
                    {
                        var x = ws.K.AsSpan(r * kvd + head * hd, hd);
                        k.RmsNorm(x, lw.KNormGain, s.Eps, x);
                        k.RopeNeox(x, c, sn);
                    }
                }
            });
            Profile?.Add(EnginePhase.QkNormRope, t0);
            t0 = Start();
            // V transposed per sequence, then attention over (sequence, query block) items.
            WorkSplitter.For(ws.Count, _threads, (c0, c1) =>
            {
                for (var c = c0; c < c1; c++)
                {
                    int off = ws.Offset[c], len = ws.Length[c];
                    TiledAttention.TransposeValues(ws.V.AsSpan(off * kvd, len * kvd), len, s.KvHeads, hd, ws.VT.AsSpan(off * kvd, len * kvd));
                }
            });
            var radius = s.LayerRadius[l];
            WorkSplitter.For(ws.BlockTotal, _threads, (b0, b1) =>
            {
                var scratch = t_scratch is { } sc && sc.HeadDim == hd ? sc : t_scratch = new AttentionScratch(hd);
                for (var b = b0; b < b1; b++)
                {
                    var c = ws.BlockSequence[b];
                    var blk = b - ws.BlockStart[c];
                    int off = ws.Offset[c], len = ws.Length[c];
                    TiledAttention.Forward(k, ws.Q.AsSpan(off * qd, len * qd), ws.K.AsSpan(off * kvd, len * kvd), ws.VT.AsSpan(off * kvd, len * kvd),
                        ws.Attn.AsSpan(off * qd, len * qd), len, s.Heads, s.KvHeads, hd, s.AttentionScale, radius, blk, 1, scratch);
                }
            });
            Profile?.Add(EnginePhase.Attention, t0);
            t0 = Start();
            lw.Wo.MatMul(ws.Attn, t, ws.X, _threads, k);
            Profile?.Add(EnginePhase.OutputProjection, t0);
            t0 = Start();
            RmsNormAddThenNormRows(ws.X, lw.PostAttnNormGain, ws.Hidden, lw.PreFfnNormGain, t, h);
            Profile?.Add(EnginePhase.Norms, t0);
            t0 = Start();
            WeightMatrix.MatMulShared(ws.X, t, [lw.WGate, lw.WUp], [ws.Gate, ws.Up], _threads, k);
            Profile?.Add(EnginePhase.GateUpProjection, t0);
            t0 = Start();
            Rows(t, 8 * f, (r0, r1) => k.GeluTanhMul(ws.Gate.AsSpan(r0 * f, (r1 - r0) * f), ws.Up.AsSpan(r0 * f, (r1 - r0) * f), ws.Gate.AsSpan(r0 * f, (r1 - r0) * f)));
            Profile?.Add(EnginePhase.GeGlu, t0);
            t0 = Start();
            lw.WDown.MatMul(ws.Gate, t, ws.X, _threads, k);
            Profile?.Add(EnginePhase.DownProjection, t0);
            t0 = Start();
            // post-FFN norm + residual, fused with the next layer's input norm (or the final norm after the last layer)
            RmsNormAddThenNormRows(ws.X, lw.PostFfnNormGain, ws.Hidden, l + 1 < _w.Layers.Count ? _w.Layers[l + 1].AttnNormGain : _w.FinalNormGain, t, h);
            Profile?.Add(EnginePhase.Norms, t0);
        }
        t0 = Start();
        // Mean over each sequence's positions, summed in position order.
        WorkSplitter.For(ws.Count, _threads, (c0, c1) =>
        {
            for (var c = c0; c < c1; c++)
            {
                var dst = ws.Pooled.AsSpan(c * h, h);
                dst.Clear();
                int off = ws.Offset[c], len = ws.Length[c];
                for (var r = 0; r < len; r++)
                {
                    k.Add(dst, ws.X.AsSpan((off + r) * h, h), dst);
                }
                k.Scale(dst, 1f / len, dst);
            }
        });
        Profile?.Add(EnginePhase.Pooling, t0);
    }

    private long Start() => Profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// Below this much work (rows × cost per row, roughly float operations) a row-wise region runs on the calling thread:
    /// waking and joining the other threads costs more than it saves (a 32-token query's norms). Row-wise ops give
    /// the same bits on any thread, so this changes no result.
    /// </summary>
    internal const int InlineWork = 1 << 16;

    private void Rows(int count, Action<int, int> body) => Rows(count, _s.HiddenSize, body);

    private void Rows(int count, int costPerRow, Action<int, int> body)
    {
        if ((long)count * costPerRow <= InlineWork)
        {
            body(0, count);
            return;
        }
        WorkSplitter.For((count + 15) / 16, _threads, (b0, b1) => body(b0 * 16, Math.Min(count, b1 * 16)));
    }

    // residual += norm1(src); dst = norm2(residual): two row-wise steps in one region (same operations as apart).
    private void RmsNormAddThenNormRows(float[] src, float[] gain1, float[] residual, float[] gain2, int rows, int h) => Rows(rows, 2 * h, (r0, r1) =>
    {
        for (var r = r0; r < r1; r++)
        {
            var res = residual.AsSpan(r * h, h);
            _k.RmsNormAddTo(src.AsSpan(r * h, h), gain1, _s.Eps, res);
            _k.RmsNorm(res, gain2, _s.Eps, src.AsSpan(r * h, h));
        }
    });

    private void RmsNormRows(float[] src, float[] gain, float[] dst, int rows, int h) => Rows(rows, (r0, r1) =>
    {
        for (var r = r0; r < r1; r++)
        {
            _k.RmsNorm(src.AsSpan(r * h, h), gain, _s.Eps, dst.AsSpan(r * h, h));
        }
    });

    private void RmsNormAddRows(float[] src, float[] gain, float[] residual, int rows, int h) => Rows(rows, (r0, r1) =>
    {
        for (var r = r0; r < r1; r++)
        {
            _k.RmsNormAddTo(src.AsSpan(r * h, h), gain, _s.Eps, residual.AsSpan(r * h, h));
        }
    });

    /// <summary>Activation buffers for up to <see cref="PackedChunk.Tokens"/> packed tokens.</summary>
    private sealed class Workspace : PackedChunk
    {
        public Workspace(FastEncoderShape s, int tokens)
            : base(tokens)
        {
            int h = s.HiddenSize, qd = s.Heads * s.HeadDim, kvd = s.KvHeads * s.HeadDim, f = s.IntermediateSize;
            Hidden = new float[tokens * h];
            X = new float[tokens * Math.Max(h, qd)];
            Q = new float[tokens * qd];
            K = new float[tokens * kvd];
            V = new float[tokens * kvd];
            VT = new float[tokens * kvd];
            Attn = new float[tokens * qd];
            Gate = new float[tokens * f];
            Up = new float[tokens * f];
            Pooled = new float[tokens * h];
        }

        public float[] Hidden { get; }
        public float[] X { get; }
        public float[] Q { get; }
        public float[] K { get; }
        public float[] V { get; }
        public float[] VT { get; }
        public float[] Attn { get; }
        public float[] Gate { get; }
        public float[] Up { get; }
        public float[] Pooled { get; }
    }
}
