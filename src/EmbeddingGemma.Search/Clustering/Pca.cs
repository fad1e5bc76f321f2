namespace EmbeddingGemma.Search.Clustering;

/// <summary>The outcome of <see cref="Pca.Fit"/>: components (unit, orthogonal), the variance each explains, and the projected points.</summary>
public sealed record PcaResult(double[] Mean, double[][] Components, double[] ExplainedVariance, double TotalVariance, double[][] Projected);

/// <summary>
/// Principal component analysis by subspace iteration on the covariance X^T X / (n - 1) (never formed: each step
/// multiplies by X then X^T, O(n*d) per step), then Rayleigh-Ritz on the small subspace with a Jacobi
/// eigen-solver. Deterministic (fixed start), double precision. Signs: each component's largest |entry| is positive.
/// </summary>
public static class Pca
{
    public static PcaResult Fit(IReadOnlyList<float[]> data, int components = 2, int maxIterations = 500, double tolerance = 1e-12)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Count;
        if (n < 2)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"PCA needs at least 2 points, got {n}.");
        }
        int d = data[0].Length;
        if (components < 1 || components > Math.Min(n, d))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"PCA components must be in 1..{Math.Min(n, d)}, got {components}.");
        }
        var mean = new double[d];
        foreach (var row in data)
        {
            if (row.Length != d)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"PCA rows differ in length ({row.Length} and {d}).");
            }
            for (int j = 0; j < d; j++)
            {
                mean[j] += row[j];
            }
        }
        for (int j = 0; j < d; j++)
        {
            mean[j] /= n;
        }
        var x = new double[n][];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            x[i] = new double[d];
            for (int j = 0; j < d; j++)
            {
                x[i][j] = data[i][j] - mean[j];
                total += x[i][j] * x[i][j];
            }
        }
        total /= n - 1;

        // Oversampled subspace: more vectors than asked converge faster and separate close eigenvalues.
        int q = Math.Min(Math.Min(n, d), components + 8);
        var v = new double[q][];
        var rng = new Random(12345);
        for (int c = 0; c < q; c++)
        {
            v[c] = new double[d];
            for (int j = 0; j < d; j++)
            {
                v[c][j] = rng.NextDouble() - 0.5;
            }
        }
        Orthonormalize(v);
        double[] eig = new double[q];
        for (int it = 0; it < maxIterations; it++)
        {
            var w = new double[q][];
            for (int c = 0; c < q; c++)
            {
                w[c] = Covariance(x, v[c]);
            }
            Orthonormalize(w);
            // Converged when the leading subspace no longer moves.
            double change = 0;
            for (int c = 0; c < components; c++)
            {
                change = Math.Max(change, 1 - Math.Abs(Dot(w[c], v[c])));
            }
            v = w;
            if (change < tolerance && it > 5)
            {
                break;
            }
        }
        // Rayleigh-Ritz: H = V^T C V (q x q), eigen-decompose, rotate.
        var cv = v.Select(vc => Covariance(x, vc)).ToArray();
        var h = new double[q, q];
        for (int a = 0; a < q; a++)
        {
            for (int b = 0; b < q; b++)
            {
                h[a, b] = Dot(v[a], cv[b]);
            }
        }
        var (values, vectors) = JacobiEigen(h);
        var order = Enumerable.Range(0, q).OrderByDescending(i => values[i]).ToArray();
        var comps = new double[components][];
        var explained = new double[components];
        for (int c = 0; c < components; c++)
        {
            int e = order[c];
            comps[c] = new double[d];
            for (int a = 0; a < q; a++)
            {
                double coef = vectors[a, e];
                for (int j = 0; j < d; j++)
                {
                    comps[c][j] += coef * v[a][j];
                }
            }
            Normalize(comps[c]);
            int argmax = 0;
            for (int j = 1; j < d; j++)
            {
                if (Math.Abs(comps[c][j]) > Math.Abs(comps[c][argmax]))
                {
                    argmax = j;
                }
            }
            if (comps[c][argmax] < 0)
            {
                for (int j = 0; j < d; j++)
                {
                    comps[c][j] = -comps[c][j];
                }
            }
            explained[c] = values[e];
        }
        var projected = new double[n][];
        for (int i = 0; i < n; i++)
        {
            projected[i] = new double[components];
            for (int c = 0; c < components; c++)
            {
                projected[i][c] = Dot(x[i], comps[c]);
            }
        }
        return new PcaResult(mean, comps, explained, total, projected);
    }

    private static double[] Covariance(double[][] x, double[] v)
    {
        int d = v.Length;
        var result = new double[d];
        foreach (var row in x)
        {
            double s = Dot(row, v);
            for (int j = 0; j < d; j++)
            {
                result[j] += s * row[j];
            }
        }
        for (int j = 0; j < d; j++)
        {
            result[j] /= x.Length - 1;
        }
        return result;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    private static void Normalize(double[] a)
    {
        double norm = Math.Sqrt(Dot(a, a));
        if (norm > 0)
        {
            for (int i = 0; i < a.Length; i++)
            {
                a[i] /= norm;
            }
        }
    }

    /// <summary>Modified Gram-Schmidt, twice for stability.</summary>
    private static void Orthonormalize(double[][] v)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            for (int c = 0; c < v.Length; c++)
            {
                for (int p = 0; p < c; p++)
                {
                    double proj = Dot(v[c], v[p]);
                    for (int j = 0; j < v[c].Length; j++)
                    {
                        v[c][j] -= proj * v[p][j];
                    }
                }
                Normalize(v[c]);
            }
        }
    }

    /// <summary>Cyclic Jacobi rotations for a small symmetric matrix: eigenvalues and eigenvectors (columns).</summary>
    internal static (double[] Values, double[,] Vectors) JacobiEigen(double[,] matrix)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var vec = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            vec[i, i] = 1;
        }
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
            {
                for (int r = p + 1; r < n; r++)
                {
                    off += a[p, r] * a[p, r];
                }
            }
            if (off < 1e-30)
            {
                break;
            }
            for (int p = 0; p < n; p++)
            {
                for (int r = p + 1; r < n; r++)
                {
                    if (Math.Abs(a[p, r]) < 1e-300)
                    {
                        continue;
                    }
                    double theta = (a[r, r] - a[p, p]) / (2 * a[p, r]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0)
                    {
                        t = 1;
                    }
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akr = a[k, r];
                        a[k, p] = c * akp - s * akr;
                        a[k, r] = s * akp + c * akr;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], ark = a[r, k];
                        a[p, k] = c * apk - s * ark;
                        a[r, k] = s * apk + c * ark;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = vec[k, p], vkr = vec[k, r];
                        vec[k, p] = c * vkp - s * vkr;
                        vec[k, r] = s * vkp + c * vkr;
                    }
                }
            }
        }
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = a[i, i];
        }
        return (values, vec);
    }
}
