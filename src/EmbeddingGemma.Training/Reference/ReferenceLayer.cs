using EmbeddingGemma.Model;

namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// One encoder layer, forward and backward (HF <c>Gemma3DecoderLayer</c>; spec §2.3), built from the ops in forward
/// order: input RMSNorm (2) → q/k/v (3) → q/k norm (4) → RoPE (5) → windowed GQA attention (6) → o_proj (3) →
/// post-attention norm + residual (7) → pre-FFN norm (8) → gate/up (3) → GeGLU (9) → down (3) → post-FFN norm +
/// residual (10). The backward runs the same list in reverse.
/// </summary>
public static class ReferenceLayer
{
    public static LayerActivations Forward(GemmaConfig c, LayerParameters p, int layer, double[] input, int s)
    {
        int h = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, hd = c.HeadDim, ff = c.IntermediateSize;
        int qd = heads * hd, kvd = kvHeads * hd;
        var eps = c.RmsNormEps;
        var sliding = c.IsSlidingLayer(layer);
        var theta = c.LayerRopeTheta(layer);
        var a = new LayerActivations { Input = input, AttnNormR = new double[s], X = new double[s * h] };
        RmsNorm.Forward(input, s, h, p.AttnNorm, eps, a.X, a.AttnNormR);
        a.Q = new double[s * qd];
        a.K = new double[s * kvd];
        a.V = new double[s * kvd];
        Linear.Forward(a.X, s, p.Wq, qd, h, a.Q);
        Linear.Forward(a.X, s, p.Wk, kvd, h, a.K);
        Linear.Forward(a.X, s, p.Wv, kvd, h, a.V);
        var qn = new double[s * qd];
        var kn = new double[s * kvd];
        a.QNormR = new double[s * heads];
        a.KNormR = new double[s * kvHeads];
        HeadNorm.Forward(a.Q, s, heads, hd, p.QNorm, eps, qn, a.QNormR);
        HeadNorm.Forward(a.K, s, kvHeads, hd, p.KNorm, eps, kn, a.KNormR);
        a.QRope = new double[s * qd];
        a.KRope = new double[s * kvd];
        Rope.Forward(qn, s, heads, hd, theta, a.QRope);
        Rope.Forward(kn, s, kvHeads, hd, theta, a.KRope);
        a.AttnOut = new double[s * qd];
        a.Lse = new double[s * heads];
        Attention.Forward(a.QRope, a.KRope, a.V, s, heads, kvHeads, hd, sliding, c.SlidingWindowRadius, c.AttentionScale, a.AttnOut, a.Lse);
        a.AttnProj = new double[s * h];
        Linear.Forward(a.AttnOut, s, p.Wo, h, qd, a.AttnProj);
        var attnPost = new double[s * h];
        a.PostAttnR = new double[s];
        RmsNorm.Forward(a.AttnProj, s, h, p.PostAttnNorm, eps, attnPost, a.PostAttnR);
        a.Mid = new double[s * h];
        Residual.Forward(input, attnPost, a.Mid);
        a.X2 = new double[s * h];
        a.PreFfnR = new double[s];
        RmsNorm.Forward(a.Mid, s, h, p.PreFfnNorm, eps, a.X2, a.PreFfnR);
        a.Gate = new double[s * ff];
        a.Up = new double[s * ff];
        Linear.Forward(a.X2, s, p.WGate, ff, h, a.Gate);
        Linear.Forward(a.X2, s, p.WUp, ff, h, a.Up);
        a.Act = new double[s * ff];
        GeGlu.Forward(a.Gate, a.Up, a.Act);
        a.Down = new double[s * h];
        Linear.Forward(a.Act, s, p.WDown, h, ff, a.Down);
        var ffnPost = new double[s * h];
        a.PostFfnR = new double[s];
        RmsNorm.Forward(a.Down, s, h, p.PostFfnNorm, eps, ffnPost, a.PostFfnR);
        a.Output = new double[s * h];
        Residual.Forward(a.Mid, ffnPost, a.Output);
        return a;
    }

    /// <summary>Adds this layer's parameter gradients to <paramref name="g"/>; returns the gradient of its input.</summary>
    public static double[] Backward(GemmaConfig c, LayerParameters p, int layer, LayerActivations a, double[] dOut, int s, LayerParameters g)
    {
        int h = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, hd = c.HeadDim, ff = c.IntermediateSize;
        int qd = heads * hd, kvd = kvHeads * hd;
        var sliding = c.IsSlidingLayer(layer);
        var theta = c.LayerRopeTheta(layer);
        // h = mid + post_ffn_norm(down(geglu(gate(x2), up(x2)))), x2 = pre_ffn_norm(mid)
        var dMid = new double[s * h];
        var dFfnPost = new double[s * h];
        Residual.Backward(dOut, dMid, dFfnPost);
        var dDown = new double[s * h];
        RmsNorm.Backward(dFfnPost, a.Down, a.PostFfnR, s, h, p.PostFfnNorm, dDown, g.PostFfnNorm);
        var dAct = new double[s * ff];
        Linear.Backward(dDown, a.Act, s, p.WDown, h, ff, dAct, g.WDown);
        var dGate = new double[s * ff];
        var dUp = new double[s * ff];
        GeGlu.Backward(dAct, a.Gate, a.Up, dGate, dUp);
        var dX2 = new double[s * h];
        Linear.Backward(dGate, a.X2, s, p.WGate, ff, h, dX2, g.WGate);
        Linear.Backward(dUp, a.X2, s, p.WUp, ff, h, dX2, g.WUp);
        RmsNorm.Backward(dX2, a.Mid, a.PreFfnR, s, h, p.PreFfnNorm, dMid, g.PreFfnNorm);
        // mid = input + post_attn_norm(o_proj(attention(rope(q_norm(q)), rope(k_norm(k)), v))), q/k/v of attn_norm(input)
        var dInput = new double[s * h];
        var dAttnPost = new double[s * h];
        Residual.Backward(dMid, dInput, dAttnPost);
        var dAttnProj = new double[s * h];
        RmsNorm.Backward(dAttnPost, a.AttnProj, a.PostAttnR, s, h, p.PostAttnNorm, dAttnProj, g.PostAttnNorm);
        var dAttnOut = new double[s * qd];
        Linear.Backward(dAttnProj, a.AttnOut, s, p.Wo, h, qd, dAttnOut, g.Wo);
        var dQRope = new double[s * qd];
        var dKRope = new double[s * kvd];
        var dV = new double[s * kvd];
        Attention.Backward(dAttnOut, a.QRope, a.KRope, a.V, a.AttnOut, a.Lse, s, heads, kvHeads, hd, sliding, c.SlidingWindowRadius, c.AttentionScale,
            dQRope, dKRope, dV);
        var dQn = new double[s * qd];
        var dKn = new double[s * kvd];
        Rope.Backward(dQRope, s, heads, hd, theta, dQn);
        Rope.Backward(dKRope, s, kvHeads, hd, theta, dKn);
        var dQ = new double[s * qd];
        var dK = new double[s * kvd];
        HeadNorm.Backward(dQn, a.Q, a.QNormR, s, heads, hd, p.QNorm, dQ, g.QNorm);
        HeadNorm.Backward(dKn, a.K, a.KNormR, s, kvHeads, hd, p.KNorm, dK, g.KNorm);
        var dX = new double[s * h];
        Linear.Backward(dQ, a.X, s, p.Wq, qd, h, dX, g.Wq);
        Linear.Backward(dK, a.X, s, p.Wk, kvd, h, dX, g.Wk);
        Linear.Backward(dV, a.X, s, p.Wv, kvd, h, dX, g.Wv);
        RmsNorm.Backward(dX, a.Input, a.AttnNormR, s, h, p.AttnNorm, dInput, g.AttnNorm);
        return dInput;
    }
}

/// <summary>The activations one layer keeps for its backward (fp64 reference: everything, for clarity).</summary>
public sealed class LayerActivations
{
    internal double[] Input { get; set; } = [];
    internal double[] AttnNormR { get; set; } = [];
    internal double[] X { get; set; } = [];
    internal double[] Q { get; set; } = [];
    internal double[] K { get; set; } = [];
    internal double[] V { get; set; } = [];
    internal double[] QNormR { get; set; } = [];
    internal double[] KNormR { get; set; } = [];
    internal double[] QRope { get; set; } = [];
    internal double[] KRope { get; set; } = [];
    internal double[] AttnOut { get; set; } = [];
    internal double[] Lse { get; set; } = [];
    internal double[] AttnProj { get; set; } = [];
    internal double[] PostAttnR { get; set; } = [];
    internal double[] Mid { get; set; } = [];
    internal double[] X2 { get; set; } = [];
    internal double[] PreFfnR { get; set; } = [];
    internal double[] Gate { get; set; } = [];
    internal double[] Up { get; set; } = [];
    internal double[] Act { get; set; } = [];
    internal double[] Down { get; set; } = [];
    internal double[] PostFfnR { get; set; } = [];

    /// <summary>The layer's output hidden states [S, hidden].</summary>
    public double[] Output { get; internal set; } = [];
}
