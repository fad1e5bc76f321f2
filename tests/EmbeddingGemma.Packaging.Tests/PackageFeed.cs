using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Packaging.Tests;

/// <summary>
/// The local NuGet feed written by scripts/pack.sh (artifacts/packages). test.sh packs after the build; when the feed
/// is missing or older than a built assembly (a direct <c>dotnet test</c> after a rebuild), the fixture runs
/// <c>scripts/pack.sh --no-build</c> once so the tests never inspect stale packages.
/// </summary>
public sealed partial class PackageFeed
{
    public PackageFeed()
    {
        Root = TestPaths.RepoRoot;
        Feed = Path.Combine(Root, "artifacts", "packages");
        Version = VersionRegex().Match(File.ReadAllText(Path.Combine(Root, "Directory.Build.props"))) is { Success: true } m
            ? m.Groups[1].Value
            : throw new InvalidOperationException("Directory.Build.props has no <Version>.");
        Projects = Directory.GetDirectories(Path.Combine(Root, "src"))
            .Select(Path.GetFileName)
            .Where(name => File.Exists(Path.Combine(Root, "src", name!, name + ".csproj")))
            .Select(name => name!)
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (!IsFresh())
        {
            var r = Proc.Run("bash", [Path.Combine(Root, "scripts", "pack.sh"), "--no-build"], Root);
            Assert.True(r.ExitCode == 0, $"scripts/pack.sh --no-build failed ({r.ExitCode}):\n{r.StdOut}\n{r.StdErr}");
            Assert.True(IsFresh(), "scripts/pack.sh did not write a package newer than each built assembly into " + Feed);
        }
    }

    /// <summary>The repository root.</summary>
    public string Root { get; }

    /// <summary>artifacts/packages.</summary>
    public string Feed { get; }

    /// <summary>The packages' version (Directory.Build.props).</summary>
    public string Version { get; }

    /// <summary>Every project under src/ (each one is a package).</summary>
    public IReadOnlyList<string> Projects { get; }

    /// <summary>The package id of a project under src/: "Managed" + the project name.</summary>
    public static string IdOf(string project) => "Managed" + project;

    public string Nupkg(string project) => Path.Combine(Feed, $"{IdOf(project)}.{Version}.nupkg");

    public string Snupkg(string project) => Path.Combine(Feed, $"{IdOf(project)}.{Version}.snupkg");

    private bool IsFresh() => Projects.All(p =>
    {
        var dll = Path.Combine(Root, "src", p, "bin", "Release", "net10.0", p + ".dll");
        return File.Exists(Nupkg(p)) && File.Exists(Snupkg(p)) && File.Exists(dll)
            && File.GetLastWriteTimeUtc(Nupkg(p)) >= File.GetLastWriteTimeUtc(dll);
    });

    [GeneratedRegex("<Version>([^<]+)</Version>")]
    private static partial Regex VersionRegex();
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "package feed";
}

/// <summary>A finished child process.</summary>
public sealed record ProcResult(int ExitCode, string StdOut, string StdErr);

/// <summary>Runs child processes (dotnet, the installed tool, the AOT executable) with a hang guard.</summary>
public static class Proc
{
    /// <summary>Generous limit for a child (a native AOT publish on two busy cores); only a hang guard.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(15);

    public static ProcResult Run(string file, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? env = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // the test host's own settings must not leak into child builds
        psi.Environment.Remove("MSBuildExtensionsPath");
        psi.Environment.Remove("MSBUILD_EXE_PATH");
        psi.Environment.Remove("MSBuildSDKsPath");
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + file);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }
        p.StandardInput.Close();
        if (!p.WaitForExit(HangGuard))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {HangGuard}");
        }
        p.WaitForExit();
        return new ProcResult(p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>A fresh scratch folder under the temp folder, deleted by the caller.</summary>
    public static string TempDir(string label)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"embeddinggemma-packaging-{label}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Parses one JSON float array per non-empty line.</summary>
    public static float[][] Vectors(string jsonLines) =>
        jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('['))
            .Select(l => System.Text.Json.JsonSerializer.Deserialize<float[]>(l)!)
            .ToArray();

    /// <summary>Largest absolute difference of two vectors of the same length.</summary>
    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    }
}
