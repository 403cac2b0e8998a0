"""Parsers of /proc files."""

import pytest

from bids_energy.meters.procfs import (
    USER_HZ,
    parse_cpuinfo,
    parse_pid_stat,
    parse_proc_stat,
    read_node_cpu,
)


def test_proc_stat_busy_and_total():
    text = "cpu  100 20 30 800 50 5 5 10 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
    node = parse_proc_stat(text, user_hz=100)
    # total = 100+20+30+800+50+5+5+10 = 1020 ticks; busy = 1020-800-50 = 170
    assert node.total_s == pytest.approx(10.2)
    assert node.busy_s == pytest.approx(1.7)


def test_proc_stat_without_cpu_line_raises():
    with pytest.raises(ValueError):
        parse_proc_stat("intr 1 2 3\n")


def test_pid_stat_comm_with_spaces_and_parens():
    fields = ["R", "7", "7", "7", "0", "-1", "0", "0", "0", "0", "0", "150", "50", "300", "100",
              "20", "0", "1", "0", "4242", "1000", "10"] + ["0"] * 30
    st = parse_pid_stat("123 (my (odd) prog) " + " ".join(fields), user_hz=100, page_size=4096)
    assert st.comm == "my (odd) prog"
    assert st.ppid == 7
    assert st.self_cpu_s == pytest.approx(2.0)
    assert st.children_cpu_s == pytest.approx(4.0)
    assert st.start_ticks == 4242
    assert st.rss_bytes == 40960


def test_cpuinfo_physical_cores_from_topology():
    blocks = []
    for i, (phys, core) in enumerate([(0, 0), (0, 0), (0, 1), (0, 1)]):  # 2 cores, 2 threads each
        blocks.append(f"processor\t: {i}\nmodel name\t: X\nphysical id\t: {phys}\ncore id\t: {core}\n")
    info = parse_cpuinfo("\n".join(blocks))
    assert (info.model, info.logical_cores, info.physical_cores) == ("X", 4, 2)


def test_cpuinfo_vm_without_topology():
    info = parse_cpuinfo("processor\t: 0\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n")
    assert (info.logical_cores, info.physical_cores) == (2, 2)


def test_pid_stat_from_bytes_with_threads_and_argv_address():
    fields = ["S", "7", "7", "7", "0", "-1", "0", "0", "0", "0", "0", "3", "1", "0", "0",
              "20", "0", "4", "0", "4242", "1000", "10"] + ["0"] * 23 + ["111", "222"] + ["0"] * 5
    st = parse_pid_stat(("9 (bet) " + " ".join(fields) + "\n").encode(), user_hz=100)
    assert st.threads == 4
    assert st.exec_sig == (111, 222)  # fields 48-49: arg_start, arg_end
    assert st.self_cpu_s == pytest.approx(0.04)


def test_pid_stat_of_an_old_kernel_has_no_argv_address():
    fields = ["S", "7"] + ["0"] * 17 + ["50"] + ["0"] * 10  # 41 fields: before Linux 3.5
    st = parse_pid_stat("9 (x) " + " ".join(fields))
    assert st.exec_sig == (0, 0) and st.start_ticks == 50


def test_node_cpu_reads_only_the_aggregate_line(tmp_path):
    (tmp_path / "stat").write_text("cpu  100 0 100 800 0 0 0 0 0 0\n" + "intr" + " 1" * 5000 + "\n")
    node = read_node_cpu(tmp_path)
    assert node.total_s == pytest.approx(1000 / USER_HZ)
    assert node.busy_s == pytest.approx(200 / USER_HZ)
