using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Attention;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Model.Fast;

/// <summary>
/// The fast CPU forward pass of EmbeddingGemma 2 (spec2 §2), over <see cref="EmbeddingGemma2Weights"/> in their stored
/// types, with the engine's kernels: <see cref="WeightMatrix.MatMul"/>/<see cref="WeightMatrix.MatMulShared"/> for every
/// product, <see cref="TiledAttention"/> with the per-layer head width and KV heads, the inclusive radius
/// (<c>sliding_window</c> as is) and scale 1.0, <see cref="KernelSet"/> norms (plain w; a gain of ones for the
/// weightless V norm), RoPE and GeGLU. PLE per layer from a row slice of per_layer_model_projection (the same numbers
/// as one [L·P] product). Pooling: mean of the final-norm states, then embedding_projection once per sequence
/// (no bias, so equal to projecting per token first, spec2 §2.7). Sequences are packed without padding; every
/// token's values are computed by the same float operations whatever its batch mates and the thread count, so a
/// text's vector is bit-identical across batchings.
/// </summary>
public sealed class FastEncoder2 : ISequenceEncoder
{
    private readonly EmbeddingGemma2Weights _w;
    private readonly EmbeddingGemma2Config _c;
    private readonly KernelSet _k;
    private readonly int _threads;
    private readonly int _chunkTokens;
    private readonly object _gate = new();
    private readonly Dictionary<(double Theta, int HeadDim), (float[] Cos, float[] Sin)> _rope = [];
    private readonly Dictionary<int, float[]> _ones = [];
    private readonly WeightMatrix[] _pleSlices;
    private readonly int[] _radius;
    private readonly int _maxQ;
    private readonly int _maxKv;
    private Workspace? _ws;

    [ThreadStatic] private static Dictionary<int, AttentionScratch>? t_scratch;

    /// <summary>The fast engine over <paramref name="weights"/> (not owned). <see cref="FastEncoderOptions.Profile"/> is not used here.</summary>
    public FastEncoder2(EmbeddingGemma2Weights weights, FastEncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new FastEncoderOptions();
        _w = weights;
        _c = weights.Config;
        _k = options.Kernels ?? KernelCatalog.Default;
        _threads = options.Threads > 0 ? options.Threads : KernelCatalog.DefaultThreads;
        _chunkTokens = Math.Max(1, options.ChunkTokens);
        var c = _c;
        _radius = Enumerable.Range(0, c.NumHiddenLayers).Select(l => c.IsSlidingLayer(l) ? c.SlidingWindow : -1).ToArray();   // the config value IS the radius
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var key = (c.LayerRopeTheta(l), c.LayerHeadDim(l));
            if (!_rope.ContainsKey(key))
            {
                _rope[key] = FastEncoder.RopeTable(key.Item1, key.Item2, c.MaxTokens);
            }
            _ones.TryAdd(key.Item2, Enumerable.Repeat(1f, key.Item2).ToArray());
        }
        _maxQ = Enumerable.Range(0, c.NumHiddenLayers).Max(l => c.NumAttentionHeads * c.LayerHeadDim(l));
        _maxKv = Enumerable.Range(0, c.NumHiddenLayers).Max(l => c.LayerKeyValueHeads(l) * c.LayerHeadDim(l));
        // Layer l's PLE rows l·P .. l·P+P-1 of per_layer_model_projection as their own matrix (stored bytes, no copy).
        var ple = weights.PleModelProjection;
        var p = c.HiddenSizePerLayerInput;
        var rowBytes = (int)GgmlTypeInfo.RowBytes(ple.Type, ple.Cols);
        _pleSlices = new WeightMatrix[c.NumHiddenLayers];
        for (var l = 0; l < _pleSlices.Length; l++)
        {
            _pleSlices[l] = WeightMatrix.Create($"{ple.Name}[layer {l}]", ple.Type, p, ple.Cols, ple.Data.Slice(l * p * rowBytes, p * rowBytes));
            _pleSlices[l].PackForProducts();
        }
    }

    /// <inheritdoc />
    public GemmaConfig Config => _w.Summary;

    /// <summary>The EmbeddingGemma 2 configuration.</summary>
    public EmbeddingGemma2Config Config2 => _c;

    /// <inheritdoc />
    public int OutputDimension => _c.EmbeddingDim;

    /// <summary>The thread count in use.</summary>
    public int Threads => _threads;

    /// <summary>The kernel set in use.</summary>
    public KernelSet Kernels => _k;

    /// <inheritdoc />
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var e = _c.EmbeddingDim;
        if (pooled.Length < sequences.Count * e)
        {
            throw new ArgumentException($"pooled needs {sequences.Count * e} floats, got {pooled.Length}.", nameof(pooled));
        }
        foreach (var q in sequences)
        {
            ReferenceEncoder2.ValidateIds(_c, q.Span);
        }
        var chunks = PackedChunk.Plan(sequences, _chunkTokens, out var order, out var total);
        lock (_gate)
        {
            foreach (var (start, end, tokens) in chunks)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var ws = _ws is { } w && w.Tokens >= tokens ? w : _ws = new Workspace(this, Math.Max(tokens, Math.Min(_chunkTokens, total)));
                ws.SetChunk(sequences, order.AsSpan(start, end - start), tokens);
                RunChunk(ws, cancellationToken);
                for (var c = 0; c < ws.Count; c++)
                {
                    ws.Output.AsSpan(c * e, e).CopyTo(pooled.Slice(ws.Index[c] * e, e));
                }
            }
        }
    }

    private void RunChunk(Workspace ws, CancellationToken ct)
    {
        var c = _c;
        var k = _k;
        int d = c.HiddenSize, f = c.IntermediateSize, p = c.HiddenSizePerLayerInput, nh = c.NumAttentionHeads, t = ws.TokenCount;
        var eps = (float)c.RmsNormEps;
        var embedScale = (float)c.EmbedScale;
        // x0 = E[id] · sqrt(D); media placeholders embed as pad (HF EmbeddingGemma2Model.forward).
        Rows(t, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++)
            {
                var row = ws.X0.AsSpan(r * d, d);
                _w.EmbeddingRow(ScaledEmbedding2.TextId(c, ws.Ids[r]), row);
                k.Scale(row, embedScale, row);
            }
        });
        ws.X0.AsSpan(0, t * d).CopyTo(ws.Hidden);
        var pleScale = (float)c.PleScale;
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            ct.ThrowIfCancellationRequested();
            var lw = _w.Layers[l];
            int hd = lw.HeadDim, kv = lw.KeyValueHeads, qd = nh * hd, kvd = kv * hd;
            var (cos, sin) = _rope[(c.LayerRopeTheta(l), hd)];
            var ones = _ones[hd];
            RmsNormRows(ws.Hidden, lw.AttnNormGain, ws.X, t, d, eps);
            WeightMatrix.MatMulShared(ws.X.AsSpan(0, t * d), t, [lw.Wq, lw.Wk, lw.Wv],
                [ws.Q.AsMemory(0, t * qd), ws.K.AsMemory(0, t * kvd), ws.V.AsMemory(0, t * kvd)], _threads, k);
            // q/k RMSNorm per head with the plain gain, V with no gain; then RoPE (q, k) at the position in the sequence.
            Rows(t, (r0, r1) =>
            {
                var half = hd / 2;
                for (var r = r0; r < r1; r++)
                {
                    var pos = ws.Position[r];
                    var cs = cos.AsSpan(pos * half, half);
                    var sn = sin.AsSpan(pos * half, half);
                    for (var head = 0; head < nh; head++)
                    {
                        var x = ws.Q.AsSpan(r * qd + head * hd, hd);
                        k.RmsNorm(x, lw.QNormGain, eps, x);
                        k.RopeNeox(x, cs, sn);
                    }
                    for (var head = 0; head < kv; head++)
                    {
                        var x = ws.K.AsSpan(r * kvd + head * hd, hd);
                        k.RmsNorm(x, lw.KNormGain, eps, x);
                        k.RopeNeox(x, cs, sn);
                        var v = ws.V.AsSpan(r * kvd + head * hd, hd);
                        k.RmsNorm(v, ones, eps, v);
                    }
                }
            });
            WorkSplitter.For(ws.Count, _threads, (c0, c1) =>
            {
                for (var s = c0; s < c1; s++)
                {
                    int off = ws.Offset[s], len = ws.Length[s];
                    TiledAttention.TransposeValues(ws.V.AsSpan(off * kvd, len * kvd), len, kv, hd, ws.VT.AsSpan(off * kvd, len * kvd));
                }
            });
            var radius = _radius[l];
            WorkSplitter.For(ws.BlockTotal, _threads, (b0, b1) =>
            {
                var cache = t_scratch ??= [];
                if (!cache.TryGetValue(hd, out var scratch))
                {
                    cache[hd] = scratch = new AttentionScratch(hd);
                }
                for (var b = b0; b < b1; b++)
                {
                    var s = ws.BlockSequence[b];
                    var blk = b - ws.BlockStart[s];
                    int off = ws.Offset[s], len = ws.Length[s];
                    // scale 1.0: the q/k norms carry the scale (spec2 §8.3)
                    TiledAttention.Forward(k, ws.Q.AsSpan(off * qd, len * qd), ws.K.AsSpan(off * kvd, len * kvd), ws.VT.AsSpan(off * kvd, len * kvd),
                        ws.Attn.AsSpan(off * qd, len * qd), len, nh, kv, hd, 1f, radius, blk, 1, scratch);
                }
            });
            lw.Wo.MatMul(ws.Attn.AsSpan(0, t * qd), t, ws.X.AsSpan(0, t * d), _threads, k);
            RmsNormAddRows(ws.X, lw.PostAttnNormGain, ws.Hidden, t, d, eps);
            RmsNormRows(ws.Hidden, lw.PreFfnNormGain, ws.X, t, d, eps);
            WeightMatrix.MatMulShared(ws.X.AsSpan(0, t * d), t, [lw.WGate, lw.WUp], [ws.Gate.AsMemory(0, t * f), ws.Up.AsMemory(0, t * f)], _threads, k);
            Rows(t, (r0, r1) => k.GeluTanhMul(ws.Gate.AsSpan(r0 * f, (r1 - r0) * f), ws.Up.AsSpan(r0 * f, (r1 - r0) * f), ws.Gate.AsSpan(r0 * f, (r1 - r0) * f)));
            lw.WDown.MatMul(ws.Gate.AsSpan(0, t * f), t, ws.X.AsSpan(0, t * d), _threads, k);
            RmsNormAddRows(ws.X, lw.PostFfnNormGain, ws.Hidden, t, d, eps);
            // PLE of this layer: RMSNorm(x0 · W_lᵀ · D^-0.5; per_layer_projection_norm)
            _pleSlices[l].MatMul(ws.X0.AsSpan(0, t * d), t, ws.Ple.AsSpan(0, t * p), _threads, k);
            Rows(t, (r0, r1) =>
            {
                for (var r = r0; r < r1; r++)
                {
                    var row = ws.Ple.AsSpan(r * p, p);
                    k.Scale(row, pleScale, row);
                    k.RmsNorm(row, _w.PleProjectionNormGain, eps, row);
                }
            });
            // PLE block on the current state: h += RMSNorm((gelu(h·Wgateᵀ) ⊙ ple) · Wprojᵀ); then h *= layer_scalar (whole stream).
            lw.PleGate.MatMul(ws.Hidden.AsSpan(0, t * d), t, ws.G.AsSpan(0, t * p), _threads, k);
            Rows(t, (r0, r1) => k.GeluTanhMul(ws.G.AsSpan(r0 * p, (r1 - r0) * p), ws.Ple.AsSpan(r0 * p, (r1 - r0) * p), ws.G.AsSpan(r0 * p, (r1 - r0) * p)));
            lw.PleProjection.MatMul(ws.G.AsSpan(0, t * p), t, ws.X.AsSpan(0, t * d), _threads, k);
            var scalar = lw.LayerScalar;
            Rows(t, (r0, r1) =>
            {
                for (var r = r0; r < r1; r++)
                {
                    var h = ws.Hidden.AsSpan(r * d, d);
                    k.RmsNormAddTo(ws.X.AsSpan(r * d, d), lw.PlePostNormGain, eps, h);
                    k.Scale(h, scalar, h);
                }
            });
        }
        RmsNormRows(ws.Hidden, _w.FinalNormGain, ws.X, t, d, eps);
        // Mean over each sequence's positions in position order, then embedding_projection of the means.
        WorkSplitter.For(ws.Count, _threads, (c0, c1) =>
        {
            for (var s = c0; s < c1; s++)
            {
                var dst = ws.Pooled.AsSpan(s * d, d);
                dst.Clear();
                int off = ws.Offset[s], len = ws.Length[s];
                for (var r = 0; r < len; r++)
                {
                    k.Add(dst, ws.X.AsSpan((off + r) * d, d), dst);
                }
                k.Scale(dst, 1f / len, dst);
            }
        });
        _w.EmbeddingProjection.MatMul(ws.Pooled.AsSpan(0, ws.Count * d), ws.Count, ws.Output.AsSpan(0, ws.Count * c.EmbeddingDim), _threads, k);
    }

    private void Rows(int count, Action<int, int> body) => WorkSplitter.For((count + 15) / 16, _threads, (b0, b1) => body(b0 * 16, Math.Min(count, b1 * 16)));

    private void RmsNormRows(float[] src, float[] gain, float[] dst, int rows, int h, float eps) => Rows(rows, (r0, r1) =>
    {
        for (var r = r0; r < r1; r++)
        {
            _k.RmsNorm(src.AsSpan(r * h, h), gain, eps, dst.AsSpan(r * h, h));
        }
    });

    private void RmsNormAddRows(float[] src, float[] gain, float[] residual, int rows, int h, float eps) => Rows(rows, (r0, r1) =>
    {
        for (var r = r0; r < r1; r++)
        {
            _k.RmsNormAddTo(src.AsSpan(r * h, h), gain, eps, residual.AsSpan(r * h, h));
        }
    });

    /// <summary>Activation buffers for up to <see cref="PackedChunk.Tokens"/> packed tokens, allocated once and reused (nothing per token).</summary>
    private sealed class Workspace : PackedChunk
    {
        public Workspace(FastEncoder2 e, int tokens)
            : base(tokens)
        {
            var c = e._c;
            int d = c.HiddenSize, f = c.IntermediateSize, p = c.HiddenSizePerLayerInput;
            X0 = new float[tokens * d];
            Hidden = new float[tokens * d];
            X = new float[tokens * Math.Max(d, e._maxQ)];
            Q = new float[tokens * e._maxQ];
            K = new float[tokens * e._maxKv];
            V = new float[tokens * e._maxKv];
            VT = new float[tokens * e._maxKv];
            Attn = new float[tokens * e._maxQ];
            Gate = new float[tokens * f];
            Up = new float[tokens * f];
            Ple = new float[tokens * p];
            G = new float[tokens * p];
            Pooled = new float[tokens * d];
            Output = new float[tokens * c.EmbeddingDim];
        }

        public float[] X0 { get; }
        public float[] Hidden { get; }
        public float[] X { get; }
        public float[] Q { get; }
        public float[] K { get; }
        public float[] V { get; }
        public float[] VT { get; }
        public float[] Attn { get; }
        public float[] Gate { get; }
        public float[] Up { get; }
        public float[] Ple { get; }
        public float[] G { get; }
        public float[] Pooled { get; }
        public float[] Output { get; }
    }
}
