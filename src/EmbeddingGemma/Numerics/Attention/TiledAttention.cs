using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Numerics.Attention;

/// <summary>Per-thread buffers of <see cref="TiledAttention"/> (allocated once, grown to the largest head group, reused).</summary>
public sealed class AttentionScratch
{
    /// <summary>Buffers for blocks of <see cref="TiledAttention.QueryBlock"/> queries and head width <paramref name="headDim"/>.</summary>
    public AttentionScratch(int headDim)
    {
        HeadDim = headDim;
        Ensure(1);
    }

    internal int HeadDim { get; }
    internal float[] Scores { get; private set; } = [];
    internal float[] Partial { get; private set; } = [];
    internal float[] Queries { get; private set; } = [];
    internal float[] Output { get; private set; } = [];
    internal float[] RowMax { get; private set; } = [];
    internal float[] RowSum { get; private set; } = [];

    // Room for blocks of QueryBlock queries × group query heads sharing one KV head.
    internal void Ensure(int group)
    {
        var rows = TiledAttention.QueryBlock * group;
        if (RowMax.Length >= rows)
        {
            return;
        }
        Scores = new float[rows * TiledAttention.KeyTile];
        Partial = new float[rows * HeadDim];
        Queries = new float[rows * HeadDim];
        Output = new float[rows * HeadDim];
        RowMax = new float[rows];
        RowSum = new float[rows];
    }
}

/// <summary>
/// Bidirectional multi-/grouped-query attention over one sequence that does only the needed work and holds no S × S
/// buffer: queries in blocks of <see cref="QueryBlock"/> positions, and all query heads that share a KV head packed
/// together as the rows of one matrix (so each key and value tile is read once per group, with 3× taller GEMMs for
/// EmbeddingGemma's 3 heads per KV head); keys in tiles of <see cref="KeyTile"/> at absolute positions, online softmax
/// (running max and sum, rescaled per tile). Sliding layers visit only the key tiles that meet the block's window
/// |i − j| ≤ radius (spec §2.4) and mask the rest of those tiles per query; global layers visit all tiles. Scores and
/// P·V use the register-tiled GEMM. Block and tile boundaries are absolute positions in the sequence, so a query's
/// result never depends on batch mates or thread count.
/// </summary>
public static class TiledAttention
{
    /// <summary>Query positions per block.</summary>
    public const int QueryBlock = 32;

    /// <summary>Keys per tile.</summary>
    public const int KeyTile = 128;

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
        scratch.Ensure(group);
        var scores = scratch.Scores.AsSpan();
        var partial = scratch.Partial.AsSpan();
        var qp = scratch.Queries.AsSpan();
        var op = scratch.Output.AsSpan();
        var rowMax = scratch.RowMax.AsSpan();
        var rowSum = scratch.RowSum.AsSpan();
        for (var blk = firstBlock; blk < firstBlock + blockCount; blk++)
        {
            var i0 = blk * QueryBlock;
            var bq = Math.Min(QueryBlock, length - i0);
            var rows = bq * group;
            int lo = 0, hi = length;
            if (radius >= 0)
            {
                lo = Math.Max(0, i0 - radius);
                hi = Math.Min(length, i0 + bq - 1 + radius + 1);
            }
            var tileStart = lo / KeyTile * KeyTile;
            for (var kvh = 0; kvh < kvHeads; kvh++)
            {
                // Row ρ = r·group + g holds query position i0 + r of head kvh·group + g.
                for (var r = 0; r < bq; r++)
                {
                    q.Slice((i0 + r) * qStride + kvh * group * headDim, group * headDim).CopyTo(qp[(r * group * headDim)..]);
                }
                rowMax[..rows].Fill(float.NegativeInfinity);
                rowSum[..rows].Clear();
                op[..(rows * headDim)].Clear();
                for (var j0 = tileStart; j0 < hi; j0 += KeyTile)
                {
                    var tk = Math.Min(KeyTile, length - j0);
                    // S[ρ, t] = q_ρ · k_{j0+t}
                    kernels.GemmTile(qp, headDim, k[(j0 * kvStride + kvh * headDim)..], kvStride, scores, KeyTile, rows, tk, headDim);
                    for (var rho = 0; rho < rows; rho++)
                    {
                        var i = i0 + rho / group;
                        var s = scores.Slice(rho * KeyTile, tk);
                        kernels.Scale(s, scale, s);
                        if (radius >= 0)
                        {
                            // keys outside |i - j| <= radius get -inf (exp gives exactly 0)
                            var first = Math.Clamp(i - radius - j0, 0, tk);
                            var last = Math.Clamp(i + radius + 1 - j0, first, tk);
                            s[..first].Fill(float.NegativeInfinity);
                            s[last..].Fill(float.NegativeInfinity);
                        }
                        var mOld = rowMax[rho];
                        var mNew = MathF.Max(mOld, kernels.Max(s));
                        if (float.IsNegativeInfinity(mNew))
                        {
                            s.Clear();
                            continue;
                        }
                        var corr = float.IsNegativeInfinity(mOld) ? 0f : MathF.Exp(mOld - mNew);
                        rowSum[rho] = rowSum[rho] * corr + kernels.ExpShifted(s, mNew, s);
                        rowMax[rho] = mNew;
                        if (corr != 1f)
                        {
                            var orow = op.Slice(rho * headDim, headDim);
                            kernels.Scale(orow, corr, orow);
                        }
                    }
                    // partial[ρ, c] = Σ_t P[ρ, t] · V[j0 + t, c]  (V transposed: row c holds V[·, c])
                    kernels.GemmTile(scores, KeyTile, vTransposed[(kvh * headDim * length + j0)..], length, partial, headDim, rows, headDim, tk);
                    kernels.Add(op[..(rows * headDim)], partial[..(rows * headDim)], op[..(rows * headDim)]);
                }
                for (var r = 0; r < bq; r++)
                {
                    for (var g = 0; g < group; g++)
                    {
                        var rho = r * group + g;
                        kernels.Scale(op.Slice(rho * headDim, headDim), 1f / rowSum[rho], output.Slice((i0 + r) * qStride + (kvh * group + g) * headDim, headDim));
                    }
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
