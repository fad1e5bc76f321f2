using System.Globalization;
using BenchmarkDotNet.Running;
using EmbeddingGemma.Benchmarks;
using EmbeddingGemma.Benchmarks.SideBySide;

switch (args.FirstOrDefault())
{
    case "gemm":
        QuickGemm.Run(args);
        return 0;
    case "qkernel":
        QuickQKernel.Run(args);
        return 0;
    case "parity":
        ModelParity.Run(args);
        return 0;
    case "parity2":
        return ModelParity2.Run(args);
    case "side-by-side":
        return Orchestrator.Run(args);
    case "worker-ours":
        OursWorker.Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), args[3]);
        return 0;
    case "worker-llama":
        LlamaWorker.Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture), args[3]);
        return 0;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
}
