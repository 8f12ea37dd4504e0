package dev.kvmctl;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import dev.kvmctl.memory.BlockAllocator;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Which part of the library may use which, checked on the compiled classes (every reference,
 * not only imports); docs/architecture.md explains the rules. The CLI is a separate module that
 * the library cannot see at compile time; the last rule keeps it from coming back in.
 */
class ArchitectureTest {
    private static JavaClasses library;

    /** The library's classes, from where {@link Kvm} was loaded (target/classes or the jar). */
    @BeforeAll
    static void importLibrary() throws Exception {
        Path classes = Path.of(Kvm.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        library = new ClassFileImporter().importPath(classes);
        assertTrue(library.contain(Vm.class) && library.contain(BlockAllocator.class), "imported " + classes);
    }

    /**
     * Kernel objects know nothing of guests, contexts or the allocator; the allocator knows no
     * KVM; guests know no contexts; nothing uses contexts from below.
     */
    @Test
    void layersUseOnlyTheLayersBelowThem() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("kernel").definedBy("dev.kvmctl", "dev.kvmctl.state..", "dev.kvmctl.internal..")
                .layer("allocator").definedBy("dev.kvmctl.memory..")
                .layer("guests").definedBy("dev.kvmctl.guests..")
                .layer("contexts").definedBy("dev.kvmctl.contexts..")
                .whereLayer("contexts").mayNotBeAccessedByAnyLayer()
                .whereLayer("guests").mayOnlyBeAccessedByLayers("contexts")
                .whereLayer("allocator").mayOnlyBeAccessedByLayers("guests")
                .whereLayer("kernel").mayOnlyBeAccessedByLayers("guests", "contexts")
                .check(library);
    }

    /** The allocator is plain Java: no KVM, no native binding, no library beyond the JDK. */
    @Test
    void theAllocatorUsesOnlyTheJdk() {
        noClasses().that().resideInAPackage("dev.kvmctl.memory..")
                .should().dependOnClassesThat().resideOutsideOfPackages("dev.kvmctl.memory..", "java..")
                .check(library);
    }

    /** No package of the library depends on another that depends back on it. */
    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.(**)").should().beFreeOfCycles().check(library);
    }

    /** The command line lives in its own module: no library class is in or uses dev.kvmctl.cli. */
    @Test
    void theLibraryHasNoCommandLine() {
        noClasses().should().resideInAPackage("dev.kvmctl.cli..")
                .orShould().dependOnClassesThat().resideInAPackage("dev.kvmctl.cli..")
                .check(library);
    }
}
