using System.Diagnostics;
using System.Globalization;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.TrainBench;
using EmbeddingGemma.Training;
using EmbeddingGemma.Training.Fast;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Optimization;
using TorchSharp;

// TrainBench: one training step (B sequences of S tokens, MNRL of the first half against the second, backward,
// AdamW) with FastTrainableEncoder and with TorchSharp/libtorch, alternated in one process on the same model, ids and
// thread count. Prints tokens/s of each, their ratio, and peak RSS (ours alone, measured before libtorch first runs,
// and the whole process). Usage:
//   OMP_WAIT_POLICY=passive dotnet run -c Release --project bench/TrainBench -- --model DIR [--batch 32] [--seq 256]
//     [--steps 3] [--threads N] [--engine both|ours|torch] [--train-embeddings] [--lr 1e-5] [--chunk-tokens N] [--profile]
//   dotnet bench/TrainBench/bin/Release/net10.0/TrainBench.dll --gemm [--tokens 8192] [--out 768] [--in 1152] [--reps 3]
//     [--threads 1,2]: the training products alone, GemmTile vs the packed kernel (GemmBench.cs)
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
var flags = new HashSet<string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (args[i] is "--train-embeddings" or "--profile" or "--gemm")
    {
        flags.Add(args[i]);
    }
    else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
    {
        opts[args[i]] = args[++i];
    }
    else
    {
        Console.Error.WriteLine($"error: unexpected argument '{args[i]}'");
        return 2;
    }
}
if (flags.Contains("--gemm"))
{
    return GemmBench.Run(opts);
}
if (!opts.TryGetValue("--model", out var modelPath))
{
    Console.Error.WriteLine("error: --model DIR is required (e.g. embeddinggemma make-model --shape full --out DIR)");
    return 2;
}
int Int(string name, int def) => opts.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : def;
var batch = Int("--batch", 32);
var seqLen = Int("--seq", 256);
var steps = Int("--steps", 3);
var threads = Int("--threads", Environment.ProcessorCount);
var engine = opts.GetValueOrDefault("--engine", "both");
var lr = opts.TryGetValue("--lr", out var lrText) ? double.Parse(lrText, CultureInfo.InvariantCulture) : 1e-5;
if (batch < 2 || batch % 2 != 0 || seqLen < 3 || steps < 1 || engine is not ("both" or "ours" or "torch"))
{
    Console.Error.WriteLine("error: --batch must be even and >= 2, --seq >= 3, --steps >= 1, --engine both|ours|torch");
    return 2;
}
if (engine != "ours" && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
{
    Console.Error.WriteLine("warning: OMP_WAIT_POLICY is not set; libtorch's spinning threads will slow the alternated C# steps (set OMP_WAIT_POLICY=passive)");
}

var sw = Stopwatch.StartNew();
FastTrainableEncoder ours;
int denseCount;
using (var model = EmbeddingGemmaModel.Load(modelPath))
{
    denseCount = model.Pipeline.Dense.Count;
    ours = new FastTrainableEncoder(model, new FastTrainableEncoderOptions
    {
        Threads = threads,
        TrainEmbeddings = flags.Contains("--train-embeddings"),
        ChunkTokens = Int("--chunk-tokens", Math.Max(8192, batch * seqLen)),
        Profile = flags.Contains("--profile"),
    });
}
GC.Collect();
var c = ours.Config;
Console.WriteLine($"model {modelPath}: hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, vocab {c.VocabSize}; " +
    $"{ours.Tensors.Where(t => t.Trainable).Sum(t => t.Count):N0} trainable of {ours.Tensors.Sum(t => t.Count):N0} parameters; loaded in {sw.Elapsed.TotalSeconds:F1} s");
Console.WriteLine($"step: {batch} x {seqLen} tokens, MNRL (scale 20) {batch / 2} anchors vs {batch / 2} positives, AdamW lr {lr}; threads {threads}, kernels {ours.Threads} workers");

var rng = new Random(1);
var ids = Enumerable.Range(0, batch).Select(_ => (int[])[c.BosTokenId, .. Enumerable.Range(0, seqLen - 2).Select(_ => rng.Next(5, c.VocabSize)), c.EosTokenId]).ToArray();
var tokens = batch * seqLen;

var trainable = ours.Tensors.Select((t, i) => (t, i)).Where(x => x.t.Trainable).ToArray();
var grads = ours.Tensors.Select(t => t.Trainable ? new float[t.Values.Length] : []).ToArray();
var adam = new AdamW<float>(trainable.Select(x => new OptimizerTensor<float>(x.t.Name, x.t.Values, x.t.IsNorm)).ToArray());
var mnrl = new MultipleNegativesRankingLoss();

double OurStep()
{
    foreach (var g in grads)
    {
        Array.Clear(g);
    }
    var y = ours.Embed(ids);
    double[][] D(IEnumerable<float[]> rows) => rows.Select(r => Array.ConvertAll(r, v => (double)v)).ToArray();
    double[][][] columns = [D(y.Take(batch / 2)), D(y.Skip(batch / 2))];
    var gy = EmbeddingLoss.ZeroGradients(columns);
    var loss = mnrl.Compute(columns, null, gy);
    ours.Backward(ids, gy.SelectMany(col => col).Select(r => Array.ConvertAll(r, v => (float)v)).ToArray(), grads);
    adam.Step(trainable.Select(x => grads[x.i]).ToArray(), lr);
    return loss;
}

static (double RssGb, double PeakGb) Memory()
{
    double rss = 0, peak = 0;
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal) || line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            var kb = double.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            if (line[2] == 'R')
            {
                rss = kb / 1048576;
            }
            else
            {
                peak = kb / 1048576;
            }
        }
    }
    return (rss, peak);
}

TorchStep? torchStep = null;
if (engine != "ours")
{
    torch.set_num_threads(threads);
    torchStep = new TorchStep(ours, denseCount, lr);
}
var oursTimes = new List<double>();
var torchTimes = new List<double>();
var oursCpu = new List<double>();
var torchCpu = new List<double>();
double? oursPeak = null;
for (var s = 0; s < steps; s++)
{
    if (engine != "torch")
    {
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        sw.Restart();
        var loss = OurStep();
        oursTimes.Add(sw.Elapsed.TotalSeconds);
        oursCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
        if (s == 0)
        {
            oursPeak = Memory().PeakGb;
        }
        Console.WriteLine($"step {s + 1} ours:  loss {loss:F6}  {sw.Elapsed.TotalSeconds,8:F2} s  {tokens / sw.Elapsed.TotalSeconds,9:F1} tokens/s  cpu {oursCpu[^1]:F2} s  rss {Memory().RssGb:F2} GB");
    }
    if (torchStep is not null)
    {
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        sw.Restart();
        var loss = torchStep.Run(ids);
        torchTimes.Add(sw.Elapsed.TotalSeconds);
        torchCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
        Console.WriteLine($"step {s + 1} torch: loss {loss:F6}  {sw.Elapsed.TotalSeconds,8:F2} s  {tokens / sw.Elapsed.TotalSeconds,9:F1} tokens/s  cpu {torchCpu[^1]:F2} s  rss {Memory().RssGb:F2} GB");
    }
}
static double Median(List<double> x)
{
    var a = x.Order().ToArray();
    return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
}
// the first step of each includes one-time costs (JIT, buffers); the median over the rest when there are any
static List<double> Steady(List<double> x) => x.Count > 1 ? x.Skip(1).ToList() : x;
if (oursTimes.Count > 0)
{
    Console.WriteLine($"ours:  {tokens / Median(Steady(oursTimes)):F1} tokens/s (median of {Steady(oursTimes).Count} steps); peak RSS before libtorch ran {oursPeak:F2} GB");
}
if (torchTimes.Count > 0)
{
    Console.WriteLine($"torch: {tokens / Median(Steady(torchTimes)):F1} tokens/s (median of {Steady(torchTimes).Count} steps)");
}
if (oursTimes.Count > 0 && torchTimes.Count > 0)
{
    Console.WriteLine($"ratio ours/torch: {Median(Steady(torchTimes)) / Median(Steady(oursTimes)):F2}x wall-clock; " +
        $"{Median(Steady(torchCpu)) / Median(Steady(oursCpu)):F2}x in CPU seconds per step (the fairer figure on a shared machine)");
}
// the roofline: model FLOPs of the step over CPU seconds, against this machine's measured fp32 peak per thread
var stepFlops = Roofline.StepFlops(c, ours.Tensors.Where(t => t.Name.Contains("_Dense.", StringComparison.Ordinal)).Select(t => t.Shape).ToList(), batch, seqLen);
var (peak, vectors) = Roofline.MeasurePeak(threads);
var peakPerThread = peak / threads;
Console.WriteLine($"roofline: {stepFlops / 1e12:F3} TFLOP per step (6 x multiply-adds of every product incl. attention); fp32 peak {peak / 1e9:F1} GFLOP/s on {threads} threads ({peakPerThread / 1e9:F1} per thread, {vectors} FMA chains)");
void Rate(string name, List<double> wall, List<double> cpu)
{
    if (wall.Count == 0)
    {
        return;
    }
    var perCpu = stepFlops / Median(Steady(cpu));
    Console.WriteLine($"  {name,-5} {stepFlops / Median(Steady(wall)) / 1e9,7:F1} GFLOP/s wall, {perCpu / 1e9,6:F1} GFLOP/s per busy thread = {perCpu / peakPerThread:P0} of peak; " +
        $"an fp32 engine at 100 % of peak would be at most {peakPerThread / perCpu:F2}x this engine in CPU time");
}
Rate("ours", oursTimes, oursCpu);
Rate("torch", torchTimes, torchCpu);
foreach (var (phase, seconds) in ours.ProfileSeconds.OrderBy(p => p.Key, StringComparer.Ordinal))
{
    Console.WriteLine($"  ours {phase,-24} {seconds,8:F2} s (all steps)");
}
Console.WriteLine($"whole-process peak RSS {Memory().PeakGb:F2} GB");
torchStep?.Dispose();
return 0;
