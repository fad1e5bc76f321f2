using EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training.Tests.Reference;

/// <summary>
/// Every fp64 reference op against central finite differences, on random inputs of odd sizes. Each op's output y is
/// reduced to the scalar <c>f = Σ r ⊙ y</c> with a fixed random r, so the backward is called with dy = r.
/// Fourth-order central differences (<see cref="GradCheck"/>) with step h = 1e-4; tolerance 1e-7 relative per entry
/// (issue 13) for entries of magnitude at least the floor 1e-4, absolute 1e-11 below it (round-off ≈ 1e-16·|f|/h).
/// </summary>
public class OpGradientTests
{
    private const double H = 1e-4;
    private const double Tolerance = 1e-7;
    private const double Floor = 1e-4;

    [Fact]
    public void ScaledEmbedding_table_gradient_touches_only_used_rows()
    {
        var rng = new Random(1);
        int vocab = 11, hidden = 7;
        int[] ids = [3, 0, 9, 3, 5];
        var table = GradCheck.RandomArray(rng, vocab * hidden);
        var r = GradCheck.RandomArray(rng, ids.Length * hidden);
        var scale = ScaledEmbedding.Scale(hidden);
        double F()
        {
            var y = new double[ids.Length * hidden];
            ScaledEmbedding.Forward(table, hidden, ids, scale, y);
            return GradCheck.Dot(y, r);
        }
        var dTable = new double[table.Length];
        ScaledEmbedding.Backward(r, hidden, ids, scale, dTable);
        GradCheck.Check("embedding table", F, table, dTable, H, Tolerance, Floor);
        for (var row = 0; row < vocab; row++)
        {
            if (!ids.Contains(row))
            {
                Assert.All(dTable.AsSpan(row * hidden, hidden).ToArray(), v => Assert.Equal(0.0, v));
            }
        }
        Assert.Equal((double)(float)Math.Sqrt(768), ScaledEmbedding.Scale(768));
    }

    [Fact]
    public void RmsNorm_gradients_for_input_and_weight()
    {
        var rng = new Random(2);
        int rows = 5, n = 13;
        var eps = 1e-6;
        var x = GradCheck.RandomArray(rng, rows * n, 2.0);
        var w = GradCheck.RandomArray(rng, n, 0.3);
        var r = GradCheck.RandomArray(rng, rows * n);
        double F()
        {
            var y = new double[rows * n];
            RmsNorm.Forward(x, rows, n, w, eps, y, new double[rows]);
            return GradCheck.Dot(y, r);
        }
        var rInv = new double[rows];
        RmsNorm.Forward(x, rows, n, w, eps, new double[rows * n], rInv);
        var dx = new double[x.Length];
        var dw = new double[n];
        RmsNorm.Backward(r, x, rInv, rows, n, w, dx, dw);
        GradCheck.Check("rmsnorm dx", F, x, dx, H, Tolerance, Floor);
        GradCheck.Check("rmsnorm dw", F, w, dw, H, Tolerance, Floor);
    }

    [Fact]
    public void HeadNorm_weight_gradient_sums_over_tokens_and_heads()
    {
        var rng = new Random(3);
        int tokens = 5, heads = 3, headDim = 9;
        var eps = 1e-5;
        var x = GradCheck.RandomArray(rng, tokens * heads * headDim, 1.5);
        var w = GradCheck.RandomArray(rng, headDim, 0.3);
        var r = GradCheck.RandomArray(rng, x.Length);
        double F()
        {
            var y = new double[x.Length];
            HeadNorm.Forward(x, tokens, heads, headDim, w, eps, y, new double[tokens * heads]);
            return GradCheck.Dot(y, r);
        }
        var rInv = new double[tokens * heads];
        HeadNorm.Forward(x, tokens, heads, headDim, w, eps, new double[x.Length], rInv);
        var dx = new double[x.Length];
        var dw = new double[headDim];
        HeadNorm.Backward(r, x, rInv, tokens, heads, headDim, w, dx, dw);
        GradCheck.Check("q/k norm dx", F, x, dx, H, Tolerance, Floor);
        GradCheck.Check("q/k norm dw", F, w, dw, H, Tolerance, Floor);
    }

    [Theory]
    [InlineData(10_000.0)]
    [InlineData(1_000_000.0)]
    public void Rope_backward_is_the_inverse_rotation(double theta)
    {
        var rng = new Random(4);
        int positions = 7, heads = 3, headDim = 10;
        var x = GradCheck.RandomArray(rng, positions * heads * headDim);
        var r = GradCheck.RandomArray(rng, x.Length);
        double F()
        {
            var y = new double[x.Length];
            Rope.Forward(x, positions, heads, headDim, theta, y);
            return GradCheck.Dot(y, r);
        }
        var dx = new double[x.Length];
        Rope.Backward(r, positions, heads, headDim, theta, dx);
        GradCheck.Check("rope dx", F, x, dx, H, Tolerance, Floor);
    }

    [Theory]
    [InlineData(true, 2, 3, 1)]   // sliding, radius 2, 3 query heads sharing 1 KV head (EmbeddingGemma's grouping)
    [InlineData(true, 3, 4, 2)]   // sliding, 2 groups
    [InlineData(false, 0, 3, 1)]  // global
    public void Attention_gradients_for_q_k_v(bool sliding, int radius, int heads, int kvHeads)
    {
        var rng = new Random(5 + radius + heads);
        int s = 9, d = 5;
        var scale = 1.0 / Math.Sqrt(d);
        var q = GradCheck.RandomArray(rng, s * heads * d, 1.5);
        var k = GradCheck.RandomArray(rng, s * kvHeads * d, 1.5);
        var v = GradCheck.RandomArray(rng, s * kvHeads * d);
        var r = GradCheck.RandomArray(rng, s * heads * d);
        double F()
        {
            var o = new double[s * heads * d];
            Attention.Forward(q, k, v, s, heads, kvHeads, d, sliding, radius, scale, o, new double[s * heads]);
            return GradCheck.Dot(o, r);
        }
        var oo = new double[s * heads * d];
        var lse = new double[s * heads];
        Attention.Forward(q, k, v, s, heads, kvHeads, d, sliding, radius, scale, oo, lse);
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        Attention.Backward(r, q, k, v, oo, lse, s, heads, kvHeads, d, sliding, radius, scale, dq, dk, dv);
        GradCheck.Check("attention dq", F, q, dq, H, Tolerance, Floor);
        GradCheck.Check("attention dk", F, k, dk, H, Tolerance, Floor);
        GradCheck.Check("attention dv", F, v, dv, H, Tolerance, Floor);
    }

    [Fact]
    public void Attention_sliding_window_is_symmetric_with_the_given_radius()
    {
        // Query 4 of 9 with radius 2 must depend on keys 2..6 only: dk of other rows is exactly zero.
        int s = 9, d = 4, radius = 2;
        var rng = new Random(6);
        var q = GradCheck.RandomArray(rng, s * d);
        var k = GradCheck.RandomArray(rng, s * d);
        var v = GradCheck.RandomArray(rng, s * d);
        var o = new double[s * d];
        var lse = new double[s];
        Attention.Forward(q, k, v, s, 1, 1, d, true, radius, 0.5, o, lse);
        var dOut = new double[s * d];
        dOut.AsSpan(4 * d, d).Fill(1.0);
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        Attention.Backward(dOut, q, k, v, o, lse, s, 1, 1, d, true, radius, 0.5, dq, dk, dv);
        for (var j = 0; j < s; j++)
        {
            var touched = dv.AsSpan(j * d, d).ToArray().Any(x => x != 0);
            Assert.Equal(Math.Abs(j - 4) <= radius, touched);
        }
    }

    [Fact]
    public void GeGlu_gradients_for_gate_and_up()
    {
        var rng = new Random(7);
        var n = 23;
        var g = GradCheck.RandomArray(rng, n, 3.0);
        var u = GradCheck.RandomArray(rng, n, 2.0);
        var r = GradCheck.RandomArray(rng, n);
        double F()
        {
            var a = new double[n];
            GeGlu.Forward(g, u, a);
            return GradCheck.Dot(a, r);
        }
        var dg = new double[n];
        var du = new double[n];
        GeGlu.Backward(r, g, u, dg, du);
        GradCheck.Check("geglu dg", F, g, dg, H, Tolerance, Floor);
        GradCheck.Check("geglu du", F, u, du, H, Tolerance, Floor);
        // gelu_pytorch_tanh at 1: 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.8411919906082768 (torch.nn.functional.gelu(approximate="tanh")).
        Assert.Equal(0.8411919906082768, GeGlu.Gelu(1.0), 15);
    }

    [Fact]
    public void Linear_gradients_for_input_and_weight()
    {
        var rng = new Random(8);
        int m = 5, inF = 7, outF = 11;
        var x = GradCheck.RandomArray(rng, m * inF);
        var w = GradCheck.RandomArray(rng, outF * inF);
        var r = GradCheck.RandomArray(rng, m * outF);
        double F()
        {
            var y = new double[m * outF];
            Linear.Forward(x, m, w, outF, inF, y);
            return GradCheck.Dot(y, r);
        }
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        Linear.Backward(r, x, m, w, outF, inF, dx, dw);
        GradCheck.Check("linear dx", F, x, dx, H, Tolerance, Floor);
        GradCheck.Check("linear dw", F, w, dw, H, Tolerance, Floor);
    }

    [Fact]
    public void Residual_passes_the_gradient_to_both_branches()
    {
        var rng = new Random(9);
        var n = 9;
        var a = GradCheck.RandomArray(rng, n);
        var b = GradCheck.RandomArray(rng, n);
        var r = GradCheck.RandomArray(rng, n);
        double F()
        {
            var y = new double[n];
            Residual.Forward(a, b, y);
            return GradCheck.Dot(y, r);
        }
        var da = new double[n];
        var db = new double[n];
        Residual.Backward(r, da, db);
        GradCheck.Check("residual da", F, a, da, H, Tolerance, Floor);
        GradCheck.Check("residual db", F, b, db, H, Tolerance, Floor);
    }

    [Fact]
    public void MeanPool_gradient_is_de_over_S()
    {
        var rng = new Random(10);
        int s = 7, n = 5;
        var h = GradCheck.RandomArray(rng, s * n);
        var r = GradCheck.RandomArray(rng, n);
        double F()
        {
            var e = new double[n];
            MeanPool.Forward(h, s, n, e);
            return GradCheck.Dot(e, r);
        }
        var dh = new double[h.Length];
        MeanPool.Backward(r, s, n, dh);
        GradCheck.Check("mean pool dh", F, h, dh, H, Tolerance, Floor);
    }

    [Fact]
    public void Dense_pair_gradients_through_both_layers()
    {
        // The two sentence-transformers Dense layers (no bias, identity) are op 3 twice: e -> z1 = W2 e -> z2 = W3 z1.
        var rng = new Random(11);
        int d = 5, inter = 13;
        var e = GradCheck.RandomArray(rng, d);
        var w2 = GradCheck.RandomArray(rng, inter * d);
        var w3 = GradCheck.RandomArray(rng, d * inter);
        var r = GradCheck.RandomArray(rng, d);
        double F()
        {
            var z1 = new double[inter];
            var z2 = new double[d];
            Linear.Forward(e, 1, w2, inter, d, z1);
            Linear.Forward(z1, 1, w3, d, inter, z2);
            return GradCheck.Dot(z2, r);
        }
        var zz1 = new double[inter];
        Linear.Forward(e, 1, w2, inter, d, zz1);
        var dz1 = new double[inter];
        var dw3 = new double[w3.Length];
        Linear.Backward(r, zz1, 1, w3, d, inter, dz1, dw3);
        var de = new double[d];
        var dw2 = new double[w2.Length];
        Linear.Backward(dz1, e, 1, w2, inter, d, de, dw2);
        GradCheck.Check("dense de", F, e, de, H, Tolerance, Floor);
        GradCheck.Check("dense_2 dW", F, w2, dw2, H, Tolerance, Floor);
        GradCheck.Check("dense_3 dW", F, w3, dw3, H, Tolerance, Floor);
    }

    [Fact]
    public void L2Normalize_gradient()
    {
        var rng = new Random(12);
        var n = 11;
        var z = GradCheck.RandomArray(rng, n, 3.0);
        var r = GradCheck.RandomArray(rng, n);
        double F()
        {
            var y = new double[n];
            L2Normalize.Forward(z, y);
            return GradCheck.Dot(y, r);
        }
        var yy = new double[n];
        var norm = L2Normalize.Forward(z, yy);
        var dz = new double[n];
        L2Normalize.Backward(r, yy, norm, dz);
        GradCheck.Check("l2 normalize dz", F, z, dz, H, Tolerance, Floor);
    }

    [Theory]
    [InlineData(13, 13)]
    [InlineData(13, 7)]
    [InlineData(13, 1)]
    public void Matryoshka_truncate_and_renormalize_gradient(int n, int k)
    {
        var rng = new Random(13 + k);
        var y = GradCheck.RandomArray(rng, n);
        var r = GradCheck.RandomArray(rng, k);
        double F()
        {
            var yk = new double[k];
            Matryoshka.Forward(y, k, yk);
            return GradCheck.Dot(yk, r);
        }
        var yyk = new double[k];
        var norm = Matryoshka.Forward(y, k, yyk);
        var dy = new double[n];
        Matryoshka.Backward(r, yyk, norm, dy);
        GradCheck.Check("matryoshka dy", F, y, dy, H, Tolerance, Floor);
        Assert.All(dy[k..], v => Assert.Equal(0.0, v));
    }
}
