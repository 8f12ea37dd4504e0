package dev.kvmctl.cli;

import dev.kvmctl.internal.bridge.Shim;

public final class Main {
    private Main() {}

    public static void main(String[] args) {
        for (int i = 0; i < Shim.layoutCount(); i++) {
            System.out.println(Shim.layoutName(i) + " = " + Shim.layoutValue(i));
        }
    }
}
