using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Attention;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>Tiled online-softmax attention against a naive double-precision S × S softmax with the spec's masks.</summary>
public class TiledAttentionTests
{
    private static float[] Naive(float[] q, float[] k, float[] v, int s, int heads, int kvHeads, int d, float scale, int radius)
    {
        var o = new float[s * heads * d];
        var group = heads / kvHeads;
        for (var h = 0; h < heads; h++)
        {
            var kvh = h / group;
            for (var i = 0; i < s; i++)
            {
                var w = new double[s];
                var max = double.NegativeInfinity;
                for (var j = 0; j < s; j++)
                {
                    if (radius >= 0 && Math.Abs(i - j) > radius)
                    {
                        w[j] = double.NegativeInfinity;
                        continue;
                    }
                    double dot = 0;
                    for (var c = 0; c < d; c++)
                    {
                        dot += (double)q[i * heads * d + h * d + c] * k[j * kvHeads * d + kvh * d + c];
                    }
                    w[j] = dot * scale;
                    max = Math.Max(max, w[j]);
                }
                double sum = 0;
                for (var j = 0; j < s; j++)
                {
                    w[j] = double.IsNegativeInfinity(w[j]) ? 0 : Math.Exp(w[j] - max);
                    sum += w[j];
                }
                for (var c = 0; c < d; c++)
                {
                    double acc = 0;
                    for (var j = 0; j < s; j++)
                    {
                        acc += w[j] * v[j * kvHeads * d + kvh * d + c];
                    }
                    o[i * heads * d + h * d + c] = (float)(acc / sum);
                }
            }
        }
        return o;
    }

    public static IEnumerable<object[]> Cases() =>
        from v in KernelCatalog.Available
        from c in new (int S, int Heads, int Kv, int D, int Radius)[] { (1, 3, 1, 8, -1), (5, 2, 2, 4, 1), (33, 3, 1, 16, 4), (100, 3, 1, 12, -1), (150, 4, 2, 8, 40), (200, 3, 1, 32, 64), (97, 1, 1, 5, 0) }
        select new object[] { v, c.S, c.Heads, c.Kv, c.D, c.Radius };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_naive_masked_softmax(KernelVariant variant, int s, int heads, int kvHeads, int d, int radius)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(s * 31 + d);
        var q = Random(rng, s * heads * d, 2f);
        var k = Random(rng, s * kvHeads * d, 2f);
        var v = Random(rng, s * kvHeads * d);
        var vt = new float[v.Length];
        TiledAttention.TransposeValues(v, s, kvHeads, d, vt);
        var o = new Guarded(s * heads * d);
        var blocks = TiledAttention.BlockCount(s);
        var scratch = new AttentionScratch(d);
        // in two calls (as two threads would), to check block ranges
        var half = blocks / 2;
        TiledAttention.Forward(kern, q, k, vt, o.Span, s, heads, kvHeads, d, 0.25f, radius, 0, half, scratch);
        TiledAttention.Forward(kern, q, k, vt, o.Span, s, heads, kvHeads, d, 0.25f, radius, half, blocks - half, new AttentionScratch(d));
        o.AssertGuards($"{variant} attention");
        var expected = Naive(q, k, v, s, heads, kvHeads, d, 0.25f, radius);
        Close(expected, o.Span, 1e-4f, 1e-5f, $"{variant} attention S={s} radius={radius}");
    }

    [Fact]
    public void Results_do_not_depend_on_how_blocks_are_split()
    {
        var kern = KernelCatalog.Default;
        const int s = 300, heads = 3, d = 16;
        var rng = new Random(4);
        var q = Random(rng, s * heads * d);
        var k = Random(rng, s * d);
        var vt = Random(rng, s * d);
        var a = new float[s * heads * d];
        var b = new float[s * heads * d];
        var blocks = TiledAttention.BlockCount(s);
        TiledAttention.Forward(kern, q, k, vt, a, s, heads, 1, d, 0.0625f, 50, 0, blocks, new AttentionScratch(d));
        for (var blk = blocks - 1; blk >= 0; blk--)
        {
            TiledAttention.Forward(kern, q, k, vt, b, s, heads, 1, d, 0.0625f, 50, blk, 1, new AttentionScratch(d));
        }
        Assert.Equal(a, b);
    }
}
