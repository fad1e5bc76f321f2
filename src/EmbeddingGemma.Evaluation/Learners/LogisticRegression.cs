using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Learners;

/// <summary>
/// Multinomial logistic regression with an intercept and L2 penalty, scikit-learn's objective
/// <c>0.5·‖W‖² + C·Σ cross-entropy</c> (intercept not penalised), C = 1 by default as in MTEB. Minimised by Nesterov-accelerated
/// gradient descent with step 1/L (L bounds the Hessian of the mean loss: 0.5·mean‖[x,1]‖² + 1/(C·n)) for a fixed
/// number of iterations (MTEB caps scikit-learn at 100 L-BFGS iterations; we take 100 Nesterov steps, which likewise stop short of the
/// optimum of this weakly regularised objective). Deterministic: starts from zero.
/// </summary>
public sealed class LogisticRegression
{
    private readonly float[][] _weights; // [class][dim]
    private readonly float[] _bias;

    private LogisticRegression(float[][] w, float[] b)
    {
        _weights = w;
        _bias = b;
    }

    public int ClassCount => _bias.Length;

    public static LogisticRegression Fit(IReadOnlyList<float[]> x, IReadOnlyList<int> y, int classCount, double c = 1.0, int iterations = 100)
    {
        int n = x.Count, d = x[0].Length, k = classCount;
        double meanSq = 0;
        foreach (var row in x)
        {
            meanSq += VectorOps.Dot(row, row) + 1;
        }
        meanSq /= n;
        double reg = 1.0 / (c * n);
        float step = (float)(1.0 / (0.5 * meanSq + reg));

        var w = NewMatrix(k, d);
        var wPrev = NewMatrix(k, d);
        var look = NewMatrix(k, d);
        var grad = NewMatrix(k, d);
        var b = new float[k];
        var bPrev = new float[k];
        var bLook = new float[k];
        var gb = new float[k];
        var p = new float[k];
        double t = 1;
        for (int it = 0; it < iterations; it++)
        {
            double tNext = (1 + Math.Sqrt(1 + 4 * t * t)) / 2;
            float mom = (float)((t - 1) / tNext);
            for (int j = 0; j < k; j++)
            {
                for (int q = 0; q < d; q++)
                {
                    look[j][q] = w[j][q] + mom * (w[j][q] - wPrev[j][q]);
                }
                bLook[j] = b[j] + mom * (b[j] - bPrev[j]);
                Array.Clear(grad[j]);
            }
            Array.Clear(gb);
            for (int i = 0; i < n; i++)
            {
                Softmax(look, bLook, x[i], p);
                p[y[i]] -= 1;
                for (int j = 0; j < k; j++)
                {
                    if (p[j] != 0)
                    {
                        VectorOps.Axpy(p[j] / n, x[i], grad[j]);
                        gb[j] += p[j] / n;
                    }
                }
            }
            for (int j = 0; j < k; j++)
            {
                (wPrev[j], w[j]) = (w[j], wPrev[j]);
                bPrev[j] = b[j];
                var wj = w[j];
                var lj = look[j];
                var gj = grad[j];
                for (int q = 0; q < d; q++)
                {
                    wj[q] = lj[q] - step * (gj[q] + (float)reg * lj[q]);
                }
                b[j] = bLook[j] - step * gb[j];
            }
            t = tNext;
        }
        return new LogisticRegression(w, b);
    }

    public int Predict(float[] x)
    {
        int best = 0;
        float bestScore = float.NegativeInfinity;
        for (int j = 0; j < _bias.Length; j++)
        {
            float s = VectorOps.Dot(_weights[j], x) + _bias[j];
            if (s > bestScore)
            {
                bestScore = s;
                best = j;
            }
        }
        return best;
    }

    private static void Softmax(float[][] w, float[] b, float[] x, float[] p)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < p.Length; j++)
        {
            p[j] = VectorOps.Dot(w[j], x) + b[j];
            max = Math.Max(max, p[j]);
        }
        float sum = 0;
        for (int j = 0; j < p.Length; j++)
        {
            p[j] = MathF.Exp(p[j] - max);
            sum += p[j];
        }
        for (int j = 0; j < p.Length; j++)
        {
            p[j] /= sum;
        }
    }

    private static float[][] NewMatrix(int rows, int cols)
    {
        var m = new float[rows][];
        for (int i = 0; i < rows; i++)
        {
            m[i] = new float[cols];
        }
        return m;
    }
}
