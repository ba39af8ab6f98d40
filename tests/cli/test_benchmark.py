"""paddle-gan benchmark (paddle_gan/benchmark.py): a tiny uniform benchmark writes every figure,
positive and finite, with parts that add up to the iteration; FLOPs are counted from the layer
shapes; --layers times every DCGAN convolution and says which the fast form lowers; missing MNIST
is exit 2. The AC-GAN case (at batch 2 on a tiny MNIST: its real G update is ~1 TFLOP) runs our
conditional step and the baselines, counts G's update on 2 batches, and weighs D and G iterations
by their share; --nproc runs one process and two launched ranks on a tiny MNIST and counts their
collectives; its PyTorch networks are conf/acgan.py's, layer for layer (only when torch is
installed: it is not a dependency). No timing is asserted: the machine is shared."""
import importlib.util
import json
import math

import numpy as np
import pytest

from paddle_gan import benchmark
from paddle_gan.cli.benchmark import main as benchmark_main
from paddle_gan.config import load_conf_module
from tests.helpers import REPO_ROOT, load_tool, tiny_mnist

benchmark_plain = load_tool("benchmark_plain")


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
    code = benchmark_main([
        "--data", "uniform", "--iters", "5", "--warmup", "2", "--plain_iters", "3",
        "--check_iters", "3", "--set", "data_size=20000", "--rounds", "2", "--json", str(out),
    ])
    assert code == 0
    report = json.loads(out.read_text())
    rounds = report["results"]["uniform"]["rounds"]  # ours and plain in turn, twice
    assert len(rounds) == 2 and all(x["speedup"] == x["plain_ms"] / x["ours_ms"] for x in rounds)
    assert report["results"]["uniform"]["iteration_ms"] in {x["ours_ms"] for x in rounds}
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
    for words in ("loss forwards", "D step", "G step", "parameter sync", "speed-up",
                  "overhead", "matmul peak", "load average", "over 2 rounds", "plain / ours",
                  "FLOPs/iteration executed"):
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
    assert benchmark_main(["--layers", "--iters", "2", "--json", str(out)]) == 0
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
    assert benchmark_main(["--data", "mnist", "--data_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and benchmark.MNIST_HINT in err[0] and str(tmp_path) in err[0]
    assert "bash data/get_mnist_data.sh" in err[0]


def acgan_flops_per_sample() -> dict:
    """conf/acgan.py's forward FLOPs per sample, from its docstring's layers."""
    gen = 2 * (100 * 1024 + 1024 * 6272  # the two dense layers
               + 128 * 256 * 25 * 14 * 14  # conv 256 5x5 on the 14x14 upsampled
               + 256 * 128 * 25 * 28 * 28  # conv 128 5x5 on 28x28
               + 128 * 1 * 4 * 28 * 28)  # conv 1 2x2 on the padded 28x28
    dis = 2 * (1 * 32 * 9 * 14 * 14 + 32 * 64 * 9 * 14 * 14  # strides 2, 1
               + 64 * 128 * 9 * 7 * 7 + 128 * 256 * 9 * 7 * 7  # strides 2, 1
               + 256 * 7 * 7 * (1 + 10))  # both heads
    return {"gen": gen, "dis": dis}


def test_flops_of_the_acgan_count_both_heads_labels_and_g_on_two_batches():
    conf = load_conf_module(REPO_ROOT / "conf/acgan.py")
    per_sample = benchmark.forward_flops(conf, (1, 28, 28), 1)
    assert per_sample == acgan_flops_per_sample()
    gen, dis = per_sample["gen"], per_sample["dis"]
    flops = benchmark.step_flops(per_sample, batch=100, g_batches=2)
    assert flops["g_step"] == 2 * 100 * 3 * (gen + dis)  # about 1 TFLOP
    assert flops["d_step"] == 100 * 2 * 3 * dis
    assert flops["forwards"] == 100 * (2 * gen + 3 * dis)


def test_an_alternating_iteration_weighs_each_networks_median_by_its_share():
    # D and G iterations 1:1 and six-fold apart (the AC-GAN's): a median of the mix would
    # be one of the two.
    times = [(1.0, "dis"), (6.0, "gen"), (1.0, "dis")]
    assert benchmark.typical_iteration(times, alternating=False) == 1.0
    assert benchmark.typical_iteration(times, alternating=True) == pytest.approx(2 / 3 + 6 / 3)
    rows = [{"decision": decision, "data": 0.0, "forwards": 0.0, "decision_s": 0.0,
             "step": seconds, "plugins": 0.0, "sync": 0.0} for seconds, decision in times]
    flops = {"forwards": 0, "d_step": 1, "g_step": 1}
    assert benchmark.summarise(rows, flops, 1.0, alternating=True)["iteration_ms"] == (
        pytest.approx(1000 * (2 / 3 + 6 / 3)))
    plain = benchmark_plain.PartTimes(iters=3, warmup=0, alternating=True)
    for i, (seconds, pick) in enumerate(times):
        plain.record(i, pick, 0.0, 0.0, 0.0, seconds, seconds)
    assert plain.iteration_ms() == pytest.approx(1000 * (2 / 3 + 6 / 3))


def test_conv_inputs_of_the_acgan_give_its_generator_labels():
    conf = load_conf_module(REPO_ROOT / "conf/acgan.py")
    found = {name: shape for name, _, shape in benchmark.conv_inputs(conf, (1, 28, 28), 2)}
    assert found == {"gen.conv1": [2, 128, 14, 14], "gen.conv2": [2, 256, 28, 28],
                     "gen.conv3": [2, 128, 29, 29], "dis.conv1": [2, 1, 28, 28],
                     "dis.conv2": [2, 32, 14, 14], "dis.conv3": [2, 64, 14, 14],
                     "dis.conv4": [2, 128, 7, 7]}


def test_acgan_case_times_the_conditional_run_and_its_baselines(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = benchmark_main([
        "--data", "mnist_acgan", "--iters", "1", "--warmup", "1", "--plain_iters", "1",
        "--check_iters", "1", "--data_dir", str(tiny_mnist(tmp_path / "mnist")),
        "--set", "batch_size=2", "--set", "plugins=[console]", "--compare", "torch",
        "--set", "conf=conf/acgan.py", "--json", str(out),  # the first generator: known FLOPs
    ])
    assert code == 0
    r = json.loads(out.read_text())["results"]["mnist_acgan"]
    for path, value in numbers(r):
        assert math.isfinite(value) and value >= 0, f"{path} = {value}"
    assert r["step_class"] == "FastStep" and r["loop"] == "alternate" and r["g_batches"] == 2
    assert r["d_steps"] == 1 and r["g_steps"] == 1  # one iteration: rounded up to a D-G cycle
    assert r["forward_flops_per_sample"] == acgan_flops_per_sample()
    per_sample = r["forward_flops_per_sample"]
    nominal = 2 * 2 * 3 * (per_sample["gen"] + per_sample["dis"])  # v1's: backward = 2 forwards
    assert r["nominal_flops"]["g_step"] == nominal
    # executed: G's forward and backward on both batches, D's forward and its input gradient
    # only (no weight gradient for D in a G step), and no input gradient for G's first layer
    assert 0.5 * nominal < r["flops"]["g_step"] < nominal
    # One D and one G iteration: the iteration is their mean, the parts' sum.
    assert r["iteration_ms"] == pytest.approx(sum(r["ms_per_iter"].values()))
    assert r["plain"]["d_steps"] == 1 and r["plain"]["g_steps"] == 1
    assert r["plain"]["ms"]["iteration"] > 0 and r["speedup"] > 0
    table = capsys.readouterr().out
    for words in ("G step (2 batches)", "shuffled batches", "FLOPs/iteration executed"):
        assert words in table
    if importlib.util.find_spec("torch") is None:
        assert "torch is not installed" in table and "torch" not in r
    else:
        assert r["torch"]["ms"]["iteration"] > 0 and r["torch"]["g_steps"] == 1
        assert "PyTorch" in table


@pytest.mark.parametrize("conf_name", ["acgan", "acgan_bn"])
def test_torch_acgan_is_the_conf_layer_for_layer(monkeypatch, conf_name):
    torch = pytest.importorskip("torch")
    import paddle

    monkeypatch.syspath_prepend(str(REPO_ROOT / "tools"))  # it imports benchmark_plain
    benchmark_torch = load_tool("benchmark_torch")
    conf = load_conf_module(REPO_ROOT / f"conf/{conf_name}.py")
    torch.manual_seed(0)
    pairs = list(zip((conf.build_generator((1, 28, 28)), conf.build_discriminator((1, 28, 28))),
                     getattr(benchmark_torch, f"build_{conf_name}")(torch)))
    for ours, theirs in pairs:
        ours.eval()  # no dropout: the outputs are compared
        theirs.eval()
        mine = ours.state_dict()
        other = {k: v for k, v in theirs.state_dict().items() if "num_batches" not in k}
        assert len(mine) == len(other)
        for (name, value), (other_name, target) in zip(mine.items(), other.items()):
            weight = value.numpy()
            if weight.ndim == 2 and "embedding" not in name:
                weight = weight.T  # Paddle's Linear is [in, out], torch's [out, in]
            assert weight.shape == tuple(target.shape), (name, other_name)
            if weight.ndim > 1:  # the same initialisation: Glorot's spread (biases are 0)
                assert np.std(weight) == pytest.approx(float(target.std()), rel=0.15), name
            with torch.no_grad():
                target.copy_(torch.from_numpy(weight))
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1, 1, (3, 100)).astype("float32")
    labels = np.array([0, 4, 9])
    (gen, dis), (torch_gen, torch_dis) = zip(*pairs)
    with paddle.no_grad():
        images = gen(paddle.to_tensor(noise), paddle.to_tensor(labels))
        outputs = [images, *dis(images)]
    with torch.no_grad():
        torch_images = torch_gen(torch.from_numpy(noise), torch.from_numpy(labels))
        torch_outputs = [torch_images, *torch_dis(torch_images)]
    for ours, theirs in zip(outputs, torch_outputs):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_nproc_times_one_process_against_two_launched_ranks(tmp_path, capsys):
    data = tiny_mnist(tmp_path / "mnist")
    assert benchmark_main(["--nproc", "2", "--iters", "1", "--warmup", "0", "--data_dir",
                           str(data), "--set", "batch_size=16",
                           "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["alone"]["world"], report["launched"]["world"]) == (1, 2)
    for run in ("alone", "launched"):
        assert report[run]["images_per_s"] == pytest.approx(
            16 * report[run]["iterations"] / report[run]["seconds"])
    # alone there is nothing to wait for; two ranks average losses and gradients every iteration
    assert report["alone"]["comm_ms_per_iter"] == 0 < report["launched"]["comm_ms_per_iter"]
    assert set(report["launched"]["gradient_averaging_ms"]) == {"coalesced", "data_parallel"}
    assert "2 processes x 1 thread" in capsys.readouterr().out


def test_nproc_below_2_is_exit_2(capsys):
    assert benchmark_main(["--nproc", "1"]) == 2
    assert "--nproc must be at least 2" in capsys.readouterr().err


def test_executed_flops_follow_what_the_backward_computes():
    """A layer's forward, then its gradients as far as they run: the input's when the input
    needs one, the weight's when it is trained, for every call since the weight's last one."""
    import paddle
    import paddle.nn as nn

    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    counter = benchmark.FlopCounter([nn.Sequential(first, second)])
    per_call = {"first": 2 * 3 * 4 * 5, "second": 2 * 4 * 2 * 5}  # a batch of 5
    x = paddle.randn([5, 3])  # data: no input gradient for the first layer
    second(first(x)).sum().backward()
    counter.lap("both")
    # forwards; then the second's input and weight gradients, the first's weight gradient only
    assert counter.parts["both"] == 2 * per_call["first"] + 3 * per_call["second"]
    with paddle.no_grad():
        second(first(x))
    counter.lap("no_grad")
    assert counter.parts["no_grad"] == per_call["first"] + per_call["second"]
    second.weight.stop_gradient = second.bias.stop_gradient = True  # frozen: input grad only
    h = first(x).detach()
    h.stop_gradient = False
    (grad,) = paddle.grad(second(h).sum(), [h])
    counter.lap("frozen")
    # the first's forward (no backward: detached), the second's forward and input gradient
    assert counter.parts["frozen"] == per_call["first"] + 2 * per_call["second"]
    counter.close()


def test_ops_says_where_the_time_goes(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # 12 iterations: past the 10 the profiler's step timer skips before it has a summary
    assert benchmark_main(["--data", "uniform", "--iters", "12", "--warmup", "1",
                           "--plain_iters", "2", "--check_iters", "0", "--ops", "5",
                           "--set", "data_size=20000", "--json", str(out)]) == 0
    ops = json.loads(out.read_text())["results"]["uniform"]["ops"]
    assert 0 < len(ops) <= 5 and all(op["ms"] > 0 and op["calls"] > 0 for op in ops)
    assert [op["ms"] for op in ops] == sorted((op["ms"] for op in ops), reverse=True)
    assert any(op["op"] == "matmul" for op in ops)  # the linear layers' forward
    printed = capsys.readouterr().out
    assert "where the time goes" in printed
    assert "Perf Summary" not in printed  # the profiler's own table of step times stays quiet
