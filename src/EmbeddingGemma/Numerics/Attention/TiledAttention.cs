using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Numerics.Attention;

/// <summary>Per-thread buffers of <see cref="TiledAttention"/> (allocated once, reused for every block).</summary>
public sealed class AttentionScratch
{
    /// <summary>Buffers for blocks of <see cref="TiledAttention.QueryBlock"/> queries and head width <paramref name="headDim"/>.</summary>
    public AttentionScratch(int headDim)
    {
        HeadDim = headDim;
        Scores = new float[TiledAttention.QueryBlock * TiledAttention.KeyTile];
        Partial = new float[TiledAttention.QueryBlock * headDim];
        RowMax = new float[TiledAttention.QueryBlock];
        RowSum = new float[TiledAttention.QueryBlock];
    }

    internal int HeadDim { get; }
    internal float[] Scores { get; }
    internal float[] Partial { get; }
    internal float[] RowMax { get; }
    internal float[] RowSum { get; }
}

/// <summary>
/// Bidirectional multi-/grouped-query attention over one sequence that does only the needed work and holds no S × S
/// buffer: queries in blocks of <see cref="QueryBlock"/>, keys in tiles of <see cref="KeyTile"/> at absolute
/// positions, online softmax (running max and sum, rescaled per tile). Sliding layers visit only the key tiles that
/// meet the block's window |i − j| ≤ radius (spec §2.4) and mask the rest of those tiles per query; global layers
/// visit all tiles. Scores and P·V use the register-tiled GEMM. Block and tile boundaries are absolute positions in
/// the sequence, so a query's result never depends on batch mates or thread count.
/// </summary>
public static class TiledAttention
{
    /// <summary>Queries per block.</summary>
    public const int QueryBlock = 32;

    /// <summary>Keys per tile.</summary>
    public const int KeyTile = 64;

    /// <summary>Number of query blocks of a sequence of <paramref name="length"/> tokens.</summary>
    public static int BlockCount(int length) => (length + QueryBlock - 1) / QueryBlock;

    /// <summary>
    /// Computes query blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blockCount"/>)
    /// of one sequence. <paramref name="q"/>: [length, heads·headDim] (RoPE applied); <paramref name="k"/>:
    /// [length, kvHeads·headDim]; <paramref name="vTransposed"/>: [kvHeads, headDim, length] (V transposed per KV
    /// head); <paramref name="output"/>: [length, heads·headDim]. <paramref name="radius"/> &lt; 0 means global attention.
    /// </summary>
    public static void Forward(KernelSet kernels, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> vTransposed, Span<float> output,
        int length, int heads, int kvHeads, int headDim, float scale, int radius, int firstBlock, int blockCount, AttentionScratch scratch)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(scratch);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 || scratch.HeadDim != headDim)
        {
            throw new ArgumentException($"Attention shape heads={heads} kvHeads={kvHeads} headDim={headDim} (scratch {scratch.HeadDim}) is invalid.");
        }
        var qStride = heads * headDim;
        var kvStride = kvHeads * headDim;
        Check.AtLeast(length * qStride, q.Length, nameof(q));
        Check.AtLeast(length * kvStride, k.Length, nameof(k));
        Check.AtLeast(length * kvStride, vTransposed.Length, nameof(vTransposed));
        Check.AtLeast(length * qStride, output.Length, nameof(output));
        if (firstBlock < 0 || blockCount < 0 || firstBlock + blockCount > BlockCount(length))
        {
            throw new ArgumentOutOfRangeException(nameof(blockCount), $"Blocks {firstBlock}..{firstBlock + blockCount} outside 0..{BlockCount(length)}.");
        }
        var group = heads / kvHeads;
        var scores = scratch.Scores.AsSpan();
        var partial = scratch.Partial.AsSpan();
        var rowMax = scratch.RowMax.AsSpan();
        var rowSum = scratch.RowSum.AsSpan();
        for (var blk = firstBlock; blk < firstBlock + blockCount; blk++)
        {
            var i0 = blk * QueryBlock;
            var bq = Math.Min(QueryBlock, length - i0);
            int lo = 0, hi = length;
            if (radius >= 0)
            {
                lo = Math.Max(0, i0 - radius);
                hi = Math.Min(length, i0 + bq - 1 + radius + 1);
            }
            var tileStart = lo / KeyTile * KeyTile;
            for (var h = 0; h < heads; h++)
            {
                var kvh = h / group;
                var qh = q[(i0 * qStride + h * headDim)..];
                var oh = output[(i0 * qStride + h * headDim)..];
                rowMax[..bq].Fill(float.NegativeInfinity);
                rowSum[..bq].Clear();
                for (var r = 0; r < bq; r++)
                {
                    oh.Slice(r * qStride, headDim).Clear();
                }
                for (var j0 = tileStart; j0 < hi; j0 += KeyTile)
                {
                    var tk = Math.Min(KeyTile, length - j0);
                    // S[r, t] = q_{i0+r} · k_{j0+t}
                    kernels.GemmTile(qh, qStride, k[(j0 * kvStride + kvh * headDim)..], kvStride, scores, KeyTile, bq, tk, headDim);
                    for (var r = 0; r < bq; r++)
                    {
                        var i = i0 + r;
                        var s = scores.Slice(r * KeyTile, tk);
                        kernels.Scale(s, scale, s);
                        if (radius >= 0)
                        {
                            // keys outside |i - j| <= radius get -inf (exp gives exactly 0)
                            var first = Math.Clamp(i - radius - j0, 0, tk);
                            var last = Math.Clamp(i + radius + 1 - j0, first, tk);
                            s[..first].Fill(float.NegativeInfinity);
                            s[last..].Fill(float.NegativeInfinity);
                        }
                        var mOld = rowMax[r];
                        var mNew = MathF.Max(mOld, kernels.Max(s));
                        if (float.IsNegativeInfinity(mNew))
                        {
                            s.Clear();
                            continue;
                        }
                        var corr = float.IsNegativeInfinity(mOld) ? 0f : MathF.Exp(mOld - mNew);
                        rowSum[r] = rowSum[r] * corr + kernels.ExpShifted(s, mNew, s);
                        rowMax[r] = mNew;
                        if (corr != 1f)
                        {
                            var orow = oh.Slice(r * qStride, headDim);
                            kernels.Scale(orow, corr, orow);
                        }
                    }
                    // partial[r, c] = Σ_t P[r, t] · V[j0 + t, c]  (V transposed: row c holds V[·, c])
                    kernels.GemmTile(scores, KeyTile, vTransposed[(kvh * headDim * length + j0)..], length, partial, headDim, bq, headDim, tk);
                    for (var r = 0; r < bq; r++)
                    {
                        var orow = oh.Slice(r * qStride, headDim);
                        kernels.Add(orow, partial.Slice(r * headDim, headDim), orow);
                    }
                }
                for (var r = 0; r < bq; r++)
                {
                    var orow = oh.Slice(r * qStride, headDim);
                    kernels.Scale(orow, 1f / rowSum[r], orow);
                }
            }
        }
    }

    /// <summary>Writes V [length, kvHeads·headDim] transposed per KV head into <paramref name="destination"/> [kvHeads, headDim, length].</summary>
    public static void TransposeValues(ReadOnlySpan<float> v, int length, int kvHeads, int headDim, Span<float> destination)
    {
        var stride = kvHeads * headDim;
        Check.AtLeast(length * stride, v.Length, nameof(v));
        Check.AtLeast(length * stride, destination.Length, nameof(destination));
        for (var t = 0; t < length; t++)
        {
            var row = v.Slice(t * stride, stride);
            for (var c = 0; c < stride; c++)
            {
                destination[c * length + t] = row[c];
            }
        }
    }
}
