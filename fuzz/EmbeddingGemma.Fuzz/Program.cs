using EmbeddingGemma.Fuzz;
using SharpFuzz;

// embeddinggemma fuzz harness.
//   <target>                    run under afl-fuzz (SharpFuzz persistent mode; fuzz/run.sh does this)
//   replay <target> PATH...     run files (or every file of folders) in-process; exit 1 if the contract breaks
//   seeds DIR                   (re)write the seed corpora into DIR/<target>/
if (args.Length == 0)
{
    Console.Error.WriteLine($"usage: EmbeddingGemma.Fuzz <target> | replay <target> PATH... | seeds DIR   (targets: {string.Join(", ", FuzzTargets.Names)})");
    return 2;
}
switch (args[0])
{
    case "seeds" when args.Length == 2:
        Seeds.Write(args[1]);
        return 0;
    case "replay" when args.Length >= 3:
        return Replay(args[1], args[2..]);
    default:
        var target = args[0];
        if (!FuzzTargets.Names.Contains(target))
        {
            Console.Error.WriteLine($"unknown target '{target}' (targets: {string.Join(", ", FuzzTargets.Names)})");
            return 2;
        }
        // FUZZ_EXCEPTION_LOG=FILE: append each contract-breaking exception (what AFL++ only counts as a crash) to FILE.
        var log = Environment.GetEnvironmentVariable("FUZZ_EXCEPTION_LOG");
        Fuzzer.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            try
            {
                FuzzTargets.Run(target, ms.ToArray());
            }
            catch (Exception e) when (log is not null && Log(log, e))
            {
                throw;
            }
        });
        return 0;
}

static int Replay(string target, string[] paths)
{
    var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray() : new[] { p }).ToList();
    int bad = 0;
    foreach (var f in files)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var notes = new List<string>();
        var e = FuzzTargets.Check(target, File.ReadAllBytes(f), x => notes.Add($"{x.GetType().Name}: {x.Message}"));
        if (e is not null)
        {
            bad++;
            Console.WriteLine($"CRASH {f}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
        else
        {
            Console.WriteLine($"ok    {f} ({sw.Elapsed.TotalMilliseconds:F1} ms){(notes.Count == 0 ? " accepted" : "")}");
            foreach (var n in notes)
            {
                Console.WriteLine($"        expected {(n.Length > 200 ? n[..200] + "..." : n)}");
            }
        }
    }
    Console.WriteLine($"{target}: {files.Count} files, {bad} contract violations");
    return bad == 0 ? 0 : 1;
}

static bool Log(string path, Exception e)
{
    File.AppendAllText(path, $"{DateTime.UtcNow:O} {e}\n\n");
    return false;
}
