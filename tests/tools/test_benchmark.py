"""tools/benchmark.py: a tiny uniform benchmark writes every figure, positive and finite, with parts
that add up to the iteration; FLOPs are counted from the layer shapes; --layers times every
DCGAN convolution and says which the fast form lowers; missing MNIST is exit 2.
No timing is asserted: the machine is shared."""
import json
import math

import pytest

from paddle_gan.config import REPO_ROOT, load_conf_module
from tests.helpers import load_tool

benchmark = load_tool("benchmark")


def numbers(tree, path=""):
    """(path, value) of every number in a JSON tree (booleans and strings are not numbers)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from numbers(value, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


def test_uniform_benchmark_json_has_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = benchmark.main([
        "--data", "uniform", "--iters", "5", "--warmup", "2", "--plain_iters", "3",
        "--check_iters", "3", "--set", "data_size=20000", "--json", str(out),
    ])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["matmul_peak_gflops"] > 0
    r = report["results"]["uniform"]
    for path, value in numbers(r):
        assert math.isfinite(value) and value > 0, f"{path} = {value}"
    parts = set(benchmark.PARTS)
    for table in ("ms", "ms_per_iter", "share"):
        assert set(r[table]) == parts
    for table in ("flops", "gflops", "peak_fraction"):
        assert set(r[table]) == {"forwards", "d_step", "g_step", "iteration"}
    assert r["d_steps"] >= 1 and r["g_steps"] >= 1 and r["iterations"] >= 5
    assert r["whole_step_iteration_ms"] > 0 and r["plain"]["peak_mb"] > 0
    assert set(r["plain"]["ms"]) >= {"iteration", "data", "forwards", "sync"}
    # The iteration is the median compute plus the mean overhead: close to the parts' sum.
    assert sum(r["ms_per_iter"].values()) == pytest.approx(r["iteration_ms"], rel=0.5)
    assert sum(r["share"].values()) == pytest.approx(1.0, rel=0.5)
    assert r["speedup"] == pytest.approx(r["plain"]["ms"]["iteration"] / r["iteration_ms"])
    overhead = sum(r["ms_per_iter"][k] for k in ("sync", "decision", "data", "plugins"))
    assert r["overhead_share"] == pytest.approx(overhead / r["iteration_ms"])
    table = capsys.readouterr().out
    for words in ("scheduler loss forwards", "D step", "G step", "parameter sync", "speed-up",
                  "overhead", "matmul peak", "load average"):
        assert words in table


def test_flops_of_the_uniform_mlp_from_its_shapes():
    conf = load_conf_module(REPO_ROOT / "conf/gan_conf.py")
    per_sample = benchmark.forward_flops(conf, (2,))
    assert per_sample == {"gen": 2 * (10 * 10 + 10 * 10 + 10 * 2),
                          "dis": 2 * (2 * 10 + 10 * 10 + 10 * 2)}
    flops = benchmark.step_flops(per_sample, batch=128)
    assert flops["d_step"] == 128 * 2 * 3 * per_sample["dis"]
    assert flops["forwards"] == 128 * (2 * per_sample["gen"] + 3 * per_sample["dis"])


def test_flops_of_the_dcgan_count_transposed_convolutions_by_their_input():
    conf_path = REPO_ROOT / "conf/gan_conf_image.py"
    if not conf_path.exists():
        pytest.skip("conf/gan_conf_image.py not there yet")
    per_sample = benchmark.forward_flops(load_conf_module(conf_path), (1, 28, 28))
    # G: fc 100 -> 3*3*256; deconv 256->128 k5 on 3x3; 128->64 k4 on 7x7; 64->1 k4 on 14x14.
    gen = 2 * (100 * 2304 + 256 * 128 * 25 * 9 + 128 * 64 * 16 * 49 + 64 * 16 * 196)
    # D: conv 1->64 k4 to 14x14; 64->128 k4 to 7x7; 128->256 k5 to 3x3; fc 2304 -> 2.
    dis = 2 * (64 * 16 * 196 + 64 * 128 * 16 * 49 + 128 * 256 * 25 * 9 + 2304 * 2)
    assert per_sample == {"gen": gen, "dis": dis}


def test_layers_times_every_dcgan_convolution_in_both_forms(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "LAYERS_BATCH", 4)  # the lowering rule does not see the batch
    out = tmp_path / "layers.json"
    assert benchmark.main(["--layers", "--iters", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["layers"]) == 6
    lowered = {row["layer"]: row["lowered"] for row in report["layers"]}
    assert lowered == {"gen.deconv1": True, "gen.deconv2": False, "gen.deconv3": True,
                       "dis.conv1": True, "dis.conv2": False, "dis.conv3": True}
    for path, value in numbers({"layers": report["layers"], "total": report["layers_total"]}):
        assert math.isfinite(value) and value > 0, f"{path} = {value}"
    table = capsys.readouterr().out
    assert "gen.deconv1" in table and "total" in table and "load average" in table


def test_missing_mnist_is_exit_2_naming_the_script(tmp_path, capsys):
    assert benchmark.main(["--data", "mnist", "--data_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and benchmark.MNIST_HINT in err[0] and str(tmp_path) in err[0]
    assert "bash data/get_mnist_data.sh" in err[0]
