package dev.kvmctl.cli;

import com.google.gson.GsonBuilder;
import dev.kvmctl.Backend;
import dev.kvmctl.Capability;
import dev.kvmctl.Kvm;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/** {@code kvmctl info}: API version, capabilities, limits and how this KVM runs guest code. */
final class InfoCommand implements Callable<Integer> {
    Path device;
    boolean json;

    /** The command's model: its options, bound to {@code c}'s fields. */
    static CommandSpec spec(InfoCommand c) {
        CommandSpec s = Specs.command(c, "info",
                "Shows the KVM API version, the capabilities kvmctl uses, limits, and how ring-0 guest code runs.");
        CommonOptions.addDevice(s, v -> c.device = v);
        s.addOption(Specs.flag("--json", v -> c.json = v).description("Print one JSON object instead of text.").build());
        Specs.addHelpOptions(s);
        return s;
    }

    @Override
    public Integer call() {
        try (Kvm kvm = Kvm.open(device)) {
            Map<String, Object> caps = new LinkedHashMap<>();
            for (Capability cap : Capability.values()) {
                caps.put(cap.kernelName(), kvm.checkExtension(cap));
            }
            Backend backend = kvm.backend();
            String ring0 = backend.emulatesRing0()
                    ? "emulated (KVM's instruction emulator runs ring-0 and real-mode code; ring 3 runs natively)"
                    : backend == Backend.UNKNOWN ? "unknown (no KVM module visible in /sys/module)" : "native (hardware virtualization)";
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("device", device.toString());
                out.put("api_version", kvm.apiVersion());
                out.put("backend", backend.name());
                out.put("ring0", backend.emulatesRing0() ? "emulated" : backend == Backend.UNKNOWN ? "unknown" : "native");
                out.put("max_vcpus", kvm.maxVcpus());
                out.put("recommended_vcpus", kvm.recommendedVcpus());
                out.put("memslots", kvm.memslots());
                out.put("vcpu_mmap_size", kvm.vcpuMmapSize());
                out.put("xsave_size", kvm.xsaveSize());
                out.put("saveable_msrs", kvm.msrIndexList().length);
                out.put("capabilities", caps);
                System.out.println(new GsonBuilder().setPrettyPrinting().create().toJson(out));
                return 0;
            }
            System.out.printf("device           %s%n", device);
            System.out.printf("KVM API version  %d%n", kvm.apiVersion());
            System.out.printf("backend          %s%n", backend);
            System.out.printf("ring-0 code      %s%n", ring0);
            System.out.printf("vCPUs            %d max, %d recommended%n", kvm.maxVcpus(), kvm.recommendedVcpus());
            System.out.printf("memory slots     %d%n", kvm.memslots());
            System.out.printf("kvm_run mmap     %d bytes%n", kvm.vcpuMmapSize());
            System.out.printf("XSAVE area       %d bytes%n", kvm.xsaveSize());
            System.out.printf("saveable MSRs    %d%n", kvm.msrIndexList().length);
            System.out.println("capabilities:");
            for (Map.Entry<String, Object> e : caps.entrySet()) {
                int v = (Integer) e.getValue();
                System.out.printf("  %-34s %s%n", e.getKey(), v == 0 ? "no" : v == 1 ? "yes" : "yes (" + v + ")");
            }
            return 0;
        }
    }
}
