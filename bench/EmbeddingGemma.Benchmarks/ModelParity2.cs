using System.Diagnostics;
using System.Globalization;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks;

/// <summary>
/// `parity2`: EmbeddingGemma 2 fast engine vs the fp64-accumulating reference on a random model, both through the
/// public path (<see cref="EmbeddingGemmaModel.Load"/> + EncodeTokenIds, unit vectors), for each stored type.
/// Usage: parity2 [--shape tiny|full] [--seed N] [--lengths 2,32,600] [--types f32,bf16,q8_0,q4_0] [--tokenizer tokenizer.json] [--out DIR].
/// Bars: F32/F16/BF16 cos >= 0.999999 (NumericTolerances.CosineFp32), Q8_0/Q4_0 cos >= 0.999 (CosineQuantized);
/// exit code 1 when a bar is missed. The full shape has the released layer shapes (hidden 512, 24 layers, radius 512,
/// global layers 5/11/17/23) with released-like norm gains (spec2 §11.6); its embedding table has the synthetic
/// tokenizer's rows unless <c>--tokenizer</c> gives a real tokenizer.json (262,144 rows: the released 271 M parameters).
/// The reference costs seconds per token there.
/// </summary>
internal static class ModelParity2
{
    public static int Run(string[] args)
    {
        string Arg(string name, string def) => Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : def;
        var shape = Arg("--shape", "full");
        var seed = int.Parse(Arg("--seed", "42"), CultureInfo.InvariantCulture);
        var lengths = Arg("--lengths", "2,32,600").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var types = Arg("--types", "f32,bf16,q8_0,q4_0").Split(',').Select(t => t.Trim().ToUpperInvariant() switch
        {
            "F32" => GgmlType.F32, "F16" => GgmlType.F16, "BF16" => GgmlType.BF16, "Q8_0" => GgmlType.Q8_0, "Q4_0" => GgmlType.Q4_0,
            _ => throw new ArgumentException($"unknown type {t}"),
        }).ToArray();
        var dir = Arg("--out", Path.Combine(Path.GetTempPath(), "eg2-parity"));
        Directory.CreateDirectory(dir);
        var sw = Stopwatch.StartNew();
        var tokenizer = Arg("--tokenizer", "");
        var ckpt = RandomModel2.Create(shape, seed, tokenizerJsonPath: tokenizer.Length > 0 ? tokenizer : null);
        var c = ckpt.Config;
        Console.WriteLine($"EmbeddingGemma 2 random {shape} seed {seed}: hidden {c.HiddenSize}, layers {c.NumHiddenLayers}, radius {c.SlidingWindow}, " +
            $"vocab {c.VocabSize}, {ckpt.ParameterCount:N0} parameters; made in {sw.Elapsed.TotalSeconds:F1} s");
        var rng = new Random(seed);
        var seqs = lengths.Select(n => Enumerable.Range(0, n).Select(i => i == 0 ? 2 : i == n - 1 ? 1 : rng.Next(5, Math.Min(c.VocabSize, 250_000))).ToArray()).ToList();
        var raw = new EncodeOptions { BatchSize = 1 };
        var failed = false;
        foreach (var type in types)
        {
            var path = Path.Combine(dir, $"{shape}-{seed}-v{c.VocabSize}-{type}.gguf");
            if (!File.Exists(path))
            {
                sw.Restart();
                ckpt.WriteGguf(path + ".tmp", type);
                File.Move(path + ".tmp", path, overwrite: true);
                Console.WriteLine($"wrote {path} in {sw.Elapsed.TotalSeconds:F1} s");
            }
            using var fast = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { UseHub = false });
            using var reference = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { UseHub = false, EncoderFactory2 = w => new ReferenceEncoder2(w) });
            var bar = type is GgmlType.Q8_0 or GgmlType.Q4_0 ? NumericTolerances.CosineQuantized : NumericTolerances.CosineFp32;
            double worstCos = 1, worstAbs = 0;
            foreach (var s in seqs)
            {
                sw.Restart();
                var a = fast.EncodeTokenIds([s], raw)[0];
                var fastSeconds = sw.Elapsed.TotalSeconds;
                sw.Restart();
                var b = reference.EncodeTokenIds([s], raw)[0];
                var cos = VectorOps.Cosine(a, b);
                var abs = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
                worstCos = Math.Min(worstCos, cos);
                worstAbs = Math.Max(worstAbs, abs);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{type} len {s.Length,5}: cos {cos:F9}  max abs (unit) {abs:E2}  fast {fastSeconds:F2} s, reference {sw.Elapsed.TotalSeconds:F1} s"));
            }
            var ok = worstCos >= bar;
            failed |= !ok;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type}: worst cos {worstCos:F9} (bar {bar}), worst max abs {worstAbs:E2}: {(ok ? "PASS" : "FAIL")}"));
        }
        return failed ? 1 : 0;
    }
}
