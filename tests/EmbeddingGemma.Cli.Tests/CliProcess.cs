using System.Diagnostics;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>Runs the built CLI (<c>dotnet EmbeddingGemma.Cli.dll ARGS</c>) as a real process: what a user runs.</summary>
internal static class CliProcess
{
    /// <summary>Runs with <paramref name="stdin"/> (null: none; stdin is closed either way) and returns the exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }
        p.StandardInput.Close();
        var outTask = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, err);
    }
}
