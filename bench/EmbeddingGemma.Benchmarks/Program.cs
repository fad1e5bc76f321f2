using BenchmarkDotNet.Running;
using EmbeddingGemma.Benchmarks;

if (args.Length > 0 && args[0] == "gemm")
{
    QuickGemm.Run(args);
    return;
}
if (args.Length > 0 && args[0] == "parity")
{
    ModelParity.Run(args);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
